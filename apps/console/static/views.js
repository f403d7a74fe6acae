// The five views. Each has mount(el, params) to draw its frame and refresh() to fill it from the API;
// every section fills itself independently, so one unavailable source never blanks the others.
"use strict";

const ENTITY_TOPICS = ["users", "products", "orders"];

function card(id, title, extra = "") {
  return `<section class="card" id="${id}"><h3>${Fmt.esc(title)}</h3>${extra}<div class="body">${infoBox("loading...")}</div></section>`;
}

function fill(el, id, html) {
  const body = el.querySelector(`#${id} .body`);
  if (body) body.innerHTML = html;
  return body;
}

const statusBadge = (s) => Fmt.badge(s, s === "up" || s === "stable" || s === "ok" ? "ok" : s === "down" || s === "dead" ? "bad" : "warn");

const ClusterView = {
  mount(el) {
    this.el = el;
    el.innerHTML = `<h2>Cluster</h2><div class="grid">${card("brokers", "Brokers")}${card("quorum", "KRaft controller quorum")}</div>${card("health", "Partition health")}`;
  },
  async refresh() {
    const [cluster, quorum] = await Promise.all([api("/api/cluster"), api("/api/cluster/quorum")]);
    const q = quorum.ok ? quorum.data : { state: "error", detail: quorum.error };
    if (!cluster.ok) {
      fill(this.el, "brokers", errorBox(cluster.error));
      fill(this.el, "health", errorBox(cluster.error));
    } else {
      const b = cluster.data.brokers;
      const role = (id) => (q.leader_id === id ? Fmt.badge("leader", "ok") : (q.voters || []).includes(id) ? "voter" : "");
      fill(this.el, "brokers",
        `<p id="broker-summary" data-up="${b.up}" data-count="${b.count}"><b>${b.up} of ${b.count}</b> brokers up` +
        `${b.cluster_id ? ` &middot; cluster id <code>${Fmt.esc(b.cluster_id)}</code>` : ""}</p>` +
        (b.error ? errorBox(`Kafka unavailable: ${b.error}`) : "") +
        table([
          ["Id", (r) => Fmt.esc(r.id ?? "?")], ["Address", (r) => Fmt.esc(r.address)], ["Rack", (r) => Fmt.esc(r.rack || "-")],
          ["Status", (r) => statusBadge(r.status)], ["Quorum", (r) => role(r.id)],
        ], b.data));
      const h = cluster.data.partitions;
      if (h.state !== "ok") fill(this.el, "health", errorBox(`Kafka unavailable: ${h.detail}`));
      else {
        const rows = [...h.offline.data.map((r) => ({ ...r, kind: "offline" })), ...h.under_replicated.data.map((r) => ({ ...r, kind: "under-replicated" }))];
        fill(this.el, "health",
          `<div class="stats"><div class="stat"><div class="num">${h.partitions}</div><div class="lbl">partitions</div></div>` +
          `<div class="stat"><div class="num" id="urp">${h.under_replicated.count}</div><div class="lbl">under-replicated</div></div>` +
          `<div class="stat"><div class="num" id="offline">${h.offline.count}</div><div class="lbl">offline</div></div></div>` +
          (rows.length ? table([
            ["Topic", (r) => Fmt.esc(r.topic)], ["Partition", (r) => r.partition, "num"], ["State", (r) => Fmt.badge(r.kind, r.kind === "offline" ? "bad" : "warn")],
            ["Leader", (r) => (r.leader < 0 ? "none" : r.leader)], ["Replicas", (r) => r.replicas.join(", ")], ["ISR", (r) => r.isr.join(", ")],
          ], rows.slice(0, 50)) : `<p class="muted">All partitions fully replicated.</p>`));
      }
    }
    if (q.state === "ok") {
      fill(this.el, "quorum",
        `<div class="stats"><div class="stat"><div class="num" id="quorum-leader">${q.leader_id}</div><div class="lbl">leader (node id)</div></div>` +
        `<div class="stat"><div class="num">${q.leader_epoch ?? "?"}</div><div class="lbl">epoch</div></div>` +
        `<div class="stat"><div class="num">${Fmt.num(q.high_watermark)}</div><div class="lbl">high watermark</div></div>` +
        `<div class="stat"><div class="num">${Fmt.num(q.max_follower_lag)}</div><div class="lbl">max follower lag</div></div></div>` +
        `<p>Voters: ${q.voters.join(", ") || "?"}${q.observers.length ? ` &middot; observers: ${q.observers.join(", ")}` : ""}` +
        ` <span class="muted">(as of ${q.age_s}s ago)</span></p>`);
    } else if (q.state === "leader down") {
      fill(this.el, "quorum", warnBox(`Leader down: ${q.detail}`) +
        `<p id="quorum-leader-down" data-last-leader="${Fmt.esc(q.last_leader_id)}">Voters: ${(q.voters || []).join(", ") || "?"}` +
        ` <span class="muted">(as of ${q.age_s}s ago)</span></p>`);
    } else {
      const text = q.state === "unknown" ? `unknown: ${q.detail}` : q.state === "loading" ? q.detail : `${q.state}: ${q.detail || ""}`;
      fill(this.el, "quorum", q.state === "unknown" || q.state === "loading" ? infoBox(text) : errorBox(text));
    }
  },
};

const TopicsView = {
  mount(el, params) {
    this.el = el;
    this.name = params[0];
    if (!this.name) {
      el.innerHTML = `<h2>Topics</h2>${card("topics", "Topics")}`;
      return;
    }
    el.innerHTML = `<h2>Topic <code>${Fmt.esc(this.name)}</code> <a href="#/messages/${encodeURIComponent(this.name)}" style="font-size:13px">browse messages</a></h2>` +
      `<div class="grid">${card("summary", "Summary")}${card("configs", "Configuration")}</div>${card("partitions", "Partitions")}`;
  },
  async refresh() {
    if (!this.name) {
      const r = await api("/api/topics");
      if (!r.ok) return fill(this.el, "topics", errorBox(r.error));
      const body = fill(this.el, "topics", table([
        ["Topic", (t) => `<a href="#/topics/${encodeURIComponent(t.name)}">${Fmt.esc(t.name)}</a>`],
        ["Partitions", (t) => t.partitions, "num"], ["Replication", (t) => t.replication_factor, "num"],
        ["Messages", (t) => Fmt.num(t.messages), "num"],
        ["Lag", (t) => (t.lag_group ? `<span title="${Fmt.esc(t.lag_group)}">${Fmt.num(t.lag)}</span>` : "-"), "num"],
        ["Under-replicated", (t) => (t.under_replicated ? Fmt.badge(t.under_replicated, "warn") : "0"), "num"],
        ["Offline", (t) => (t.offline ? Fmt.badge(t.offline, "bad") : "0"), "num"],
        ["Size", (t) => Fmt.num(t.size_bytes), "num"],
      ], r.data.data, true));
      bindRows(body, r.data.data, (t) => (location.hash = `#/topics/${encodeURIComponent(t.name)}`));
      return;
    }
    const r = await api(`/api/topics/${encodeURIComponent(this.name)}`);
    if (!r.ok) {
      ["summary", "configs", "partitions"].forEach((id) => fill(this.el, id, errorBox(r.error)));
      return;
    }
    const t = r.data;
    fill(this.el, "summary", `<div class="stats">
      <div class="stat"><div class="num">${t.partitions}</div><div class="lbl">partitions</div></div>
      <div class="stat"><div class="num">${t.replication_factor}</div><div class="lbl">replication factor</div></div>
      <div class="stat"><div class="num" id="topic-messages">${Fmt.num(t.messages)}</div><div class="lbl">messages</div></div>
      <div class="stat"><div class="num">${t.under_replicated}</div><div class="lbl">under-replicated</div></div></div>
      <p class="muted">Size on disk: not available through confluent-kafka's AdminClient (no DescribeLogDirs).</p>`);
    const c = t.configs;
    fill(this.el, "configs", table([["Config", (e) => `<code>${Fmt.esc(e[0])}</code>`], ["Value", (e) => Fmt.esc(e[1])]], [
      ["retention.ms", c["retention.ms"] ? `${c["retention.ms"]} (${Fmt.ms(c["retention.ms"])})` : undefined],
      ...Object.entries(c).filter(([k]) => k !== "retention.ms"),
    ].filter((e) => e[1] !== undefined)));
    fill(this.el, "partitions", table([
      ["Partition", (p) => p.partition, "num"], ["Leader", (p) => (p.leader ?? Fmt.badge("none", "bad"))],
      ["Replicas", (p) => p.replicas.join(", ")], ["ISR", (p) => `${p.isr.join(", ")} ${p.under_replicated ? Fmt.badge("under-replicated", "warn") : ""}`],
      ["Start offset", (p) => Fmt.num(p.start_offset), "num"], ["End offset", (p) => Fmt.num(p.end_offset), "num"],
      ["Messages", (p) => Fmt.num(p.messages), "num"],
    ], t.partitions_detail.data));
  },
};

function messageRows(messages, withReason) {
  const cols = [
    ["Partition", (m) => m.partition, "num"], ["Offset", (m) => m.offset, "num"],
    ["Timestamp (UTC)", (m) => Fmt.esc(Fmt.datetime(m.timestamp))], ["Key", (m) => `<code>${Fmt.esc(m.key ?? "null")}</code>`],
  ];
  if (withReason) cols.push(["Reason", (m) => `${Fmt.badge(m.reason.error_type || "?", "bad")}<div>${Fmt.esc(m.reason.error || "")}</div>` +
    `<div class="headers">from ${Fmt.esc(m.reason.original_topic)}[${Fmt.esc(m.reason.original_partition)}]@${Fmt.esc(m.reason.original_offset)} &middot; ${Fmt.esc(m.reason.consumer_group || "")}</div>`]);
  else cols.push(["Headers", (m) => `<div class="headers">${m.headers.map(([k, v]) => `${Fmt.esc(k)}=${Fmt.esc(v)}`).join("<br>") || "-"}</div>`]);
  cols.push(["Value", (m) => `<pre class="json">${Fmt.esc(Fmt.json(m.value, m.value_text))}</pre>`]);
  return table(cols, messages);
}

const MessagesView = {
  mount(el, params) {
    this.el = el;
    this.done = false;
    this.topic = params[0] || "";
    el.innerHTML = `<h2>Messages</h2><section class="card"><form class="controls" id="browse">
      <label>Topic <select name="topic"></select></label>
      <label>Partition <select name="partition"><option value="">all</option></select></label>
      <label>Order <select name="order"><option value="newest">newest first</option><option value="oldest">from offset / oldest</option></select></label>
      <label>Offset <input name="offset" type="number" min="0" placeholder="-" style="width:110px"></label>
      <label>Limit <input name="limit" type="number" min="1" max="500" value="20" style="width:80px"></label>
      <button type="submit">Browse</button></form>
      <form class="controls" id="filters">
      <label>Key contains <input name="key" placeholder="e.g. a user id" style="width:240px"></label>
      <label>Header <input name="header" placeholder="name or name=text" style="width:160px"></label>
      <label>Value contains <input name="value" placeholder="e.g. shipped" style="width:160px"></label>
      <label>From (UTC) <input name="since" type="datetime-local" step="1"></label>
      <label>To (UTC) <input name="until" type="datetime-local" step="1"></label>
      <button type="submit" id="search">Filter</button>
      <button type="button" id="tail-start" title="follow new messages (key, header and value filters apply)">Live tail</button></form>
      <div id="result">${infoBox("choose a topic")}</div></section>`;
    const form = el.querySelector("#browse");
    form.addEventListener("submit", (e) => { e.preventDefault(); this.browse(); });
    el.querySelector("#filters").addEventListener("submit", (e) => { e.preventDefault(); this.search(); });
    el.querySelector("#tail-start").addEventListener("click", () => this.tail());
    form.topic.addEventListener("change", () => this.partitions());
  },
  unmount() {
    LiveTail.stop();
  },
  async refresh() {
    if (this.done) return; // browsing is on demand: no polling while someone reads messages
    this.done = true;
    const r = await api("/api/topics");
    const form = this.el.querySelector("#browse");
    if (!r.ok) return (this.el.querySelector("#result").innerHTML = errorBox(r.error));
    this.topics = r.data.data;
    form.topic.innerHTML = this.topics.map((t) => `<option>${Fmt.esc(t.name)}</option>`).join("");
    form.topic.value = this.topic || (this.topics.find((t) => t.name === "orders") || this.topics[0] || {}).name || "";
    this.partitions();
    if (form.topic.value) await this.browse();
  },
  partitions() {
    const form = this.el.querySelector("#browse");
    const t = (this.topics || []).find((x) => x.name === form.topic.value);
    form.partition.innerHTML = `<option value="">all</option>` + Array.from({ length: t ? t.partitions : 0 }, (_, i) => `<option>${i}</option>`).join("");
  },
  async show(url, what) {
    LiveTail.stop();
    const out = this.el.querySelector("#result");
    out.innerHTML = infoBox(`reading ${what}...`);
    const r = await api(url);
    if (!r.ok) return (out.innerHTML = errorBox(r.error));
    const note = r.data.scanned !== undefined ? ` (searched ${Fmt.num(r.data.scanned)} messages)` : "";
    out.innerHTML = `<p id="message-count" data-count="${r.data.count}">${r.data.count} messages from ${Fmt.esc(what)}${note}</p>` +
      messageRows(r.data.data, false);
  },
  browse() {
    const f = this.el.querySelector("#browse");
    const q = new URLSearchParams({ limit: f.limit.value || "20", order: f.offset.value ? "oldest" : f.order.value });
    if (f.partition.value !== "") q.set("partition", f.partition.value);
    if (f.offset.value !== "") q.set("offset", f.offset.value);
    return this.show(`/api/topics/${encodeURIComponent(f.topic.value)}/messages?${q}`, f.topic.value);
  },
  // the filter fields as query parameters; times are read as UTC, like the table shows them
  filters(withTimes) {
    const f = this.el.querySelector("#filters");
    const q = new URLSearchParams();
    ["key", "header", "value"].forEach((k) => f[k].value && q.set(k, f[k].value));
    if (withTimes) ["since", "until"].forEach((k) => f[k].value && q.set(k, String(Date.parse(`${f[k].value}Z`))));
    return q;
  },
  search() {
    const topic = this.el.querySelector("#browse").topic.value;
    const q = this.filters(true);
    if (![...q.keys()].length) return (this.el.querySelector("#result").innerHTML = warnBox("give at least one filter"));
    q.set("limit", this.el.querySelector("#browse").limit.value || "20");
    return this.show(`/api/topics/${encodeURIComponent(topic)}/messages/search?${q}`, topic);
  },
  tail() {
    const topic = this.el.querySelector("#browse").topic.value;
    if (topic) LiveTail.start(this.el.querySelector("#result"), topic, this.filters(false));
  },
};

// membership comes from a child process that can die with a broker (librdkafka #4605): say when it is stale
function membershipNote(m) {
  if (!m || (m.state === "ok" && !m.detail)) return "";
  if (m.state === "stale") return warnBox(`Members as of ${m.age_s}s ago (stale): ${m.detail}`);
  return warnBox(m.detail || `membership ${m.state}`);
}

const GroupsView = {
  mount(el, params) {
    this.el = el;
    this.id = params[0];
    if (!this.id) {
      el.innerHTML = `<h2>Consumer groups</h2>${card("groups", "Groups")}`;
      return;
    }
    el.innerHTML = `<h2>Group <code>${Fmt.esc(this.id)}</code></h2><div class="grid">${card("gsummary", "Summary")}` +
      `<section class="card"><h3>Lag over time (messages)</h3><div class="chart-box"><canvas id="lag-chart"></canvas></div></section></div>` +
      `${card("members", "Members")}${card("gpartitions", "Partitions")}`;
    this.chart = new LiveChart(el.querySelector("#lag-chart"), "messages behind");
  },
  unmount() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
  },
  async refresh() {
    if (!this.id) {
      const r = await api("/api/groups");
      if (!r.ok) return fill(this.el, "groups", errorBox(r.error));
      const members = r.data.data.reduce((s, g) => s + (g.members || 0), 0);
      const body = fill(this.el, "groups", membershipNote(r.data.membership) +
        `<p id="group-summary" data-count="${r.data.count}" data-members="${members}">${r.data.count} groups, ${members} members</p>` + table([
        ["Group", (g) => `<a href="#/groups/${encodeURIComponent(g.group_id)}">${Fmt.esc(g.group_id)}</a>`],
        ["State", (g) => statusBadge(g.state)], ["Members", (g) => Fmt.num(g.members), "num"],
        ["Topics", (g) => Fmt.esc(g.topics.join(", "))], ["Lag", (g) => Fmt.num(g.lag), "num"],
        ["Coordinator", (g) => Fmt.esc(g.coordinator ?? "?"), "num"],
      ], r.data.data, true));
      bindRows(body, r.data.data, (g) => (location.hash = `#/groups/${encodeURIComponent(g.group_id)}`));
      return;
    }
    const r = await api(`/api/groups/${encodeURIComponent(this.id)}`);
    if (!r.ok) {
      ["gsummary", "members", "gpartitions"].forEach((id) => fill(this.el, id, errorBox(r.error)));
      return;
    }
    const g = r.data;
    fill(this.el, "gsummary", membershipNote(g.membership) + `<div class="stats">
      <div class="stat"><div class="num">${statusBadge(g.state)}</div><div class="lbl">state</div></div>
      <div class="stat"><div class="num">${Fmt.num(g.members)}</div><div class="lbl">members</div></div>
      <div class="stat"><div class="num">${Fmt.num(g.lag)}</div><div class="lbl">lag (messages)</div></div>
      <div class="stat"><div class="num">${Fmt.esc(g.coordinator ?? "?")}</div><div class="lbl">coordinator</div></div></div>
      <p class="muted">Assignor: ${Fmt.esc(g.partition_assignor || "-")} &middot; protocol: ${Fmt.esc(g.type)}</p>`);
    fill(this.el, "members", table([
      ["Client id", (m) => Fmt.esc(m.client_id)], ["Host", (m) => Fmt.esc(m.host)],
      ["Assigned partitions", (m) => Fmt.esc(m.assignment.map((a) => `${a.topic}[${a.partition}]`).join(", ") || "-")],
      ["Member id", (m) => `<code>${Fmt.esc(m.member_id)}</code>`],
    ], g.members_detail.data));
    fill(this.el, "gpartitions", (g.offsets_error ? errorBox(`Offsets unavailable: ${g.offsets_error}`) : "") + table([
      ["Topic", (p) => Fmt.esc(p.topic)], ["Partition", (p) => p.partition, "num"], ["Member", (p) => Fmt.esc(p.member || "-")],
      ["Committed", (p) => Fmt.num(p.committed_offset), "num"], ["End offset", (p) => Fmt.num(p.end_offset), "num"], ["Lag", (p) => Fmt.num(p.lag), "num"],
    ], g.partitions.data));
    const h = g.lag_history.data;
    this.chart.update(h.map((p) => p.t), [{ label: this.id, values: h.map((p) => p.lag) }]);
  },
};

const PipelineView = {
  mount(el) {
    this.el = el;
    this.tick = 0;
    el.innerHTML = `<h2>Pipeline</h2>${card("headline", "Now")}<div class="grid">
      <section class="card"><h3>Events/s per topic: produced (solid) and applied (dashed)</h3><div class="chart-box"><canvas id="rate-chart"></canvas></div></section>
      <section class="card"><h3>Consumer lag over time (messages)</h3><div class="chart-box"><canvas id="lag-chart"></canvas></div></section></div>
      <div class="grid">${card("tables", "Rows per table (PostgreSQL)")}${card("verify", "Last reconciliation (verify)")}</div>${card("dlq", "Recent dead letters")}`;
    this.rates = new LiveChart(el.querySelector("#rate-chart"), "events/s");
    this.lag = new LiveChart(el.querySelector("#lag-chart"), "messages behind");
    window.consoleCharts = { rates: this.rates, lag: this.lag };
  },
  unmount() {
    this.rates.destroy();
    this.lag.destroy();
  },
  async refresh() {
    const slow = this.tick++ % 3 === 0;
    const [series, summary, dlq] = await Promise.all([
      api("/api/pipeline/series"), api("/api/pipeline"), slow ? api("/api/dead-letters?limit=10") : Promise.resolve(null),
    ]);
    if (series.ok) this.drawCharts(series.data.data);
    if (!summary.ok) ["headline", "tables", "verify"].forEach((id) => fill(this.el, id, errorBox(summary.error)));
    else this.drawSummary(summary.data);
    if (dlq && !dlq.ok) fill(this.el, "dlq", errorBox(dlq.error));
    if (dlq && dlq.ok) {
      fill(this.el, "dlq", `<p>${dlq.data.topics.map((t) => `<code>${Fmt.esc(t.topic)}</code>: ${Fmt.num(t.messages)}`).join(" &middot; ") || "no dead-letter topics"}</p>` +
        (dlq.data.count ? messageRows(dlq.data.data, true) : `<p class="muted">No dead letters.</p>`));
    }
  },
  drawCharts(points) {
    const times = points.map((p) => p.t);
    const seen = new Set();
    points.forEach((p) => [p.produced, p.applied].forEach((m) => Object.entries(m).forEach(([t, v]) => v && seen.add(t))));
    const topics = seen.size ? [...seen].sort() : ENTITY_TOPICS;
    const series = [];
    topics.forEach((t, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({ label: `${t} produced`, color, values: points.map((p) => p.produced[t] ?? null) });
      series.push({ label: `${t} applied`, color, dashed: true, values: points.map((p) => p.applied[t] ?? null) });
    });
    this.rates.update(times, series);
    const groups = [...new Set(points.flatMap((p) => Object.keys(p.lag)))].sort();
    this.lag.update(times, groups.map((g) => ({ label: g, values: points.map((p) => p.lag[g] ?? null) })));
  },
  drawSummary(s) {
    const latest = s.rates.latest;
    const sum = (m) => (latest ? Object.values(m).reduce((a, v) => a + (v || 0), 0) : null);
    const tables = s.tables.state === "ok" ? s.tables.data : [];
    const lat = tables.map((t) => t.latency_avg_s).filter((v) => v !== null && v !== undefined);
    fill(this.el, "headline", (s.rates.error ? errorBox(`Kafka unavailable: ${s.rates.error}`) : "") + `<div class="stats">
      <div class="stat"><div class="num" id="produced-rate">${Fmt.rate(latest && sum(latest.produced))}</div><div class="lbl">events/s produced</div></div>
      <div class="stat"><div class="num">${Fmt.rate(latest && sum(latest.applied))}</div><div class="lbl">events/s applied</div></div>
      <div class="stat"><div class="num">${Fmt.num(s.lag.total)}</div><div class="lbl">pipeline lag (messages)</div></div>
      <div class="stat"><div class="num">${lat.length ? (lat.reduce((a, v) => a + v, 0) / lat.length).toFixed(2) + " s" : "n/a"}</div><div class="lbl">end-to-end latency (last minute)</div></div>
      <div class="stat"><div class="num">${Fmt.num(tables.reduce((a, t) => a + (t.rows || 0), 0))}</div><div class="lbl">rows in PostgreSQL</div></div></div>`);
    if (s.tables.state !== "ok") fill(this.el, "tables", errorBox(`PostgreSQL unavailable: ${s.tables.detail}`));
    else fill(this.el, "tables", table([
      ["Table", (t) => `<code>${Fmt.esc(t.table)}</code>`], ["State", (t) => statusBadge(t.state)], ["Rows", (t) => Fmt.num(t.rows), "num"],
      ["Applied (1 min)", (t) => Fmt.num(t.applied_last_minute), "num"],
      ["Latency avg / max", (t) => (t.latency_avg_s == null ? "n/a" : `${t.latency_avg_s.toFixed(2)} / ${t.latency_max_s.toFixed(2)} s`), "num"],
    ], s.tables.data) + `<p class="muted">${Fmt.esc(s.tables.database)}</p>`);
    this.drawVerify(s.verify);
  },
  drawVerify(v) {
    if (v.state !== "ok") {
      const box = v.state === "error" ? errorBox(`verify failed: ${v.detail}`) : infoBox(`${v.state}: ${v.detail || ""}`);
      return fill(this.el, "verify", box);
    }
    const r = v.report;
    const verdict = r.ok ? Fmt.badge("match", "ok") : r.caught_up === false ? Fmt.badge("consumers still catching up", "warn") : Fmt.badge("mismatch", "bad");
    fill(this.el, "verify", `<p>${verdict} &middot; finished ${Fmt.esc(v.finished_at.slice(0, 19).replace("T", " "))} UTC (${v.took_s}s)` +
      `${v.running ? " &middot; re-running" : ""}</p>` + table([
      ["Topic", (t) => Fmt.esc(t.topic)], ["Rows", (t) => Fmt.num(t.rows), "num"], ["New msgs", (t) => Fmt.num(t.read), "num"],
      ["Missing", (t) => Fmt.num(t.missing), "num"], ["Stale", (t) => Fmt.num(t.stale), "num"], ["Changed", (t) => Fmt.num(t.tampered), "num"],
      ["Extra", (t) => Fmt.num(t.extra + t.ahead), "num"], ["Dead letters", (t) => Fmt.num(t["dead letters"]), "num"],
      ["DLQ missing / twice", (t) => `${Fmt.num(t["dlq missing"])} / ${Fmt.num(t["dlq twice"])}`, "num"],
      ["Lag", (t) => Fmt.num(t.lag), "num"], ["OK", (t) => (t.ok ? Fmt.badge("ok", "ok") : Fmt.badge("no", "bad"))],
    ], r.topics || []) + (r.orphans ? `<p class="muted">Orphan orders: ${r.orphans.missing_user} without user, ${r.orphans.missing_product} without product</p>` : ""));
  },
};

const VIEWS = { cluster: ClusterView, topics: TopicsView, messages: MessagesView, groups: GroupsView, pipeline: PipelineView };
