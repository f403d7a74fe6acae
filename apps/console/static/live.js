// The live tail (server-sent events, pausable) and the Dead letters view with its replay action.
"use strict";

const TAIL_KEEP = 500; // rows kept on the page, newest first

const LiveTail = {
  source: null,
  start(out, topic, filters) {
    this.stop();
    this.out = out;
    this.rows = [];
    this.held = [];
    this.paused = false;
    this.count = 0;
    out.innerHTML = `<p id="tail-bar">Live tail of <code>${Fmt.esc(topic)}</code>${[...filters.keys()].length ? ` (filtered: ${Fmt.esc(filters.toString())})` : ""}:
      <span id="tail-state" data-state="connecting">connecting...</span>
      <button type="button" id="tail-pause">Pause</button> <button type="button" id="tail-stop">Stop</button>
      <span id="tail-count" class="muted" data-count="0">0 messages</span></p><div id="tail-table">${infoBox("waiting for new messages...")}</div>`;
    out.querySelector("#tail-pause").addEventListener("click", () => this.togglePause());
    out.querySelector("#tail-stop").addEventListener("click", () => this.stop());
    const source = new EventSource(`/api/topics/${encodeURIComponent(topic)}/tail?${filters}`);
    this.source = source;
    source.addEventListener("ready", () => this.state("live", "live"));
    source.onmessage = (e) => this.receive(JSON.parse(e.data));
    source.onerror = () => {
      if (this.source !== source) return;
      // EventSource reconnects by itself (the tail then restarts from the end offsets)
      this.state("reconnecting", "connection lost, reconnecting...");
    };
  },
  stop() {
    if (!this.source) return;
    this.source.close();
    this.source = null;
    this.state("closed", "stopped");
  },
  state(name, text) {
    const el = this.out && this.out.querySelector("#tail-state");
    if (!el) return;
    el.dataset.state = name;
    el.innerHTML = Fmt.badge(text, name === "live" ? "ok" : name === "paused" ? "warn" : "muted");
  },
  togglePause() {
    this.paused = !this.paused;
    this.out.querySelector("#tail-pause").textContent = this.paused ? "Resume" : "Pause";
    if (this.paused) return this.state("paused", "paused");
    this.state("live", "live");
    this.rows = [...this.held.reverse(), ...this.rows].slice(0, TAIL_KEEP);
    this.held = [];
    this.draw();
  },
  receive(message) {
    this.count += 1;
    const counter = this.out.querySelector("#tail-count");
    counter.dataset.count = String(this.count);
    if (this.paused) {
      this.held = [...this.held, message].slice(-TAIL_KEEP);
      counter.textContent = `${this.count} messages (${this.held.length} held while paused)`;
      return;
    }
    counter.textContent = `${this.count} messages`;
    this.rows = [message, ...this.rows].slice(0, TAIL_KEEP);
    if (!this.pending) this.pending = requestAnimationFrame(() => this.draw());
  },
  draw() {
    this.pending = null;
    const table = this.out.querySelector("#tail-table");
    if (table) table.innerHTML = messageRows(this.rows, false);
  },
};

const DeadLettersView = {
  mount(el) {
    this.el = el;
    el.innerHTML = `<h2>Dead letters</h2><section class="card"><h3>Replay</h3>
      <p class="muted">Re-publishes a dead-letter topic's letters, after a fix, to their original topic (as <code>make dlq-replay</code>):
      letters already replayed are not sent again.</p><div id="actions-state"></div>
      <form class="controls" id="replay-form" onsubmit="return false"><label>Action token
      <input name="token" id="action-token" type="password" autocomplete="off" style="width:260px"></label></form>
      <div id="replay-result"></div></section>${card("dlq-topics", "Dead-letter topics")}${card("dlq-letters", "Newest dead letters")}`;
  },
  async refresh() {
    const [actions, dlq] = await Promise.all([api("/api/actions"), api("/api/dead-letters?limit=50")]);
    const enabled = actions.ok && actions.data.enabled;
    this.el.querySelector("#actions-state").innerHTML = !actions.ok ? errorBox(actions.error)
      : enabled ? "" : warnBox(actions.data.detail);
    if (!dlq.ok) {
      fill(this.el, "dlq-topics", errorBox(dlq.error));
      fill(this.el, "dlq-letters", errorBox(dlq.error));
      return;
    }
    const body = fill(this.el, "dlq-topics", table([
      ["Topic", (t) => `<code>${Fmt.esc(t.topic)}</code>`], ["Letters", (t) => Fmt.num(t.messages), "num"],
      ["", (t) => `<button type="button" class="replay" data-dlq="${Fmt.esc(t.topic)}"${enabled ? "" : " disabled"}>Replay</button>`],
    ], dlq.data.topics));
    body.querySelectorAll("button.replay").forEach((b) => b.addEventListener("click", () => this.replay(b.dataset.dlq)));
    fill(this.el, "dlq-letters", dlq.data.count ? messageRows(dlq.data.data, true) : `<p class="muted">No dead letters.</p>`);
  },
  async replay(dlq) {
    const out = this.el.querySelector("#replay-result");
    out.innerHTML = infoBox(`replaying ${dlq}...`);
    const r = await apiPost(`/api/actions/dead-letters/${encodeURIComponent(dlq)}/replay`, this.el.querySelector("#action-token").value);
    out.innerHTML = r.ok
      ? `<div class="state info" id="replay-done" data-republished="${r.data.republished}">${Fmt.esc(dlq)} &rarr; ${Fmt.esc(r.data.topic)}: ` +
        `${r.data.read} read, ${r.data.republished} re-published</div>`
      : errorBox(`replay refused or failed: ${r.error}`);
  },
};

VIEWS["dead-letters"] = DeadLettersView;
