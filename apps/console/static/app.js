// Router (#/view/param), the polling loop of the current view, and the header's status pills.
"use strict";

const POLL_MS = 3000;
let current = null;
let generation = 0;

function route() {
  const [name, ...params] = (location.hash.replace(/^#\/?/, "") || "cluster").split("/").map(decodeURIComponent);
  const view = VIEWS[name] || ClusterView;
  if (current && current.unmount) current.unmount();
  current = view;
  generation += 1;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === (VIEWS[name] ? name : "cluster")));
  view.mount(document.getElementById("view"), params);
  poll(generation);
}

async function poll(gen) {
  if (gen !== generation) return; // the view changed; its loop ends here
  try {
    await current.refresh();
    document.getElementById("pill-updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
  } catch (err) {
    console.warn("refresh failed", err); // a drawing bug must not stop the loop
  }
  setTimeout(() => poll(gen), POLL_MS);
}

function pill(id, text, kind) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = `pill ${kind}`;
}

async function header() {
  const r = await api("/api/status");
  if (!r.ok) {
    pill("pill-kafka", "console unreachable", "bad");
    pill("pill-db", "PostgreSQL ?", "warn");
  } else {
    const k = r.data.kafka;
    pill("pill-kafka", `Kafka ${k.up}/${k.brokers} brokers up`, k.up === k.brokers ? "ok" : k.up ? "warn" : "bad");
    const db = r.data.postgresql;
    pill("pill-db", db.state === "ok" ? "PostgreSQL ok" : "PostgreSQL down", db.state === "ok" ? "ok" : "bad");
    document.getElementById("pill-db").title = db.detail || db.database || "";
  }
  setTimeout(header, POLL_MS);
}

window.addEventListener("hashchange", route);
route();
header();
