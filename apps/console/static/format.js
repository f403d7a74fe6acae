// Small helpers shared by the views: fetching with a clear error state, escaping, tables, charts.
"use strict";

const Fmt = {
  esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },
  num(value) {
    return value === null || value === undefined ? "<span class=muted>n/a</span>" : Number(value).toLocaleString("en-US");
  },
  rate(value) {
    return value === null || value === undefined ? "<span class=muted>n/a</span>" : Number(value).toFixed(1);
  },
  time(ms) {
    return ms ? new Date(ms).toLocaleTimeString("en-GB") : "";
  },
  datetime(ms) {
    return ms ? new Date(ms).toISOString().replace("T", " ").replace("Z", "") : "";
  },
  // short JSON on one line, longer JSON pretty-printed
  json(value, text) {
    if (value === null || value === undefined) return text ?? "null";
    const compact = JSON.stringify(value);
    return compact.length <= 90 ? compact : JSON.stringify(value, null, 2);
  },
  badge(text, kind) {
    return `<span class="badge ${kind}">${Fmt.esc(text)}</span>`;
  },
  ms(value) {
    if (value === null || value === undefined) return "n/a";
    const ms = Number(value);
    if (ms % 86400000 === 0) return `${ms / 86400000} d`;
    if (ms % 3600000 === 0) return `${ms / 3600000} h`;
    return `${ms} ms`;
  },
};

// fetch JSON; never throws: {ok, data} or {ok: false, error: "one line"}
async function api(path) {
  try {
    const res = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => ({}));
    if (res.ok) return { ok: true, data: body };
    const d = body.detail;
    const error = typeof d === "object" && d ? `${d.source === "postgresql" ? "PostgreSQL" : "Kafka"} unavailable: ${d.detail}` : String(d || res.statusText);
    return { ok: false, status: res.status, error };
  } catch (err) {
    return { ok: false, error: `console not reachable (${err.message})` };
  }
}

// POST with a bearer token; same answer shape as api()
async function apiPost(path, token) {
  try {
    const res = await fetch(path, { method: "POST", headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
    const body = await res.json().catch(() => ({}));
    if (res.ok) return { ok: true, data: body };
    const d = body.detail;
    return { ok: false, status: res.status, error: typeof d === "object" && d ? d.detail || JSON.stringify(d) : String(d || res.statusText) };
  } catch (err) {
    return { ok: false, error: `console not reachable (${err.message})` };
  }
}

function errorBox(message) {
  return `<div class="state error" role="alert">${Fmt.esc(message)}</div>`;
}

function warnBox(message) {
  return `<div class="state warn">${Fmt.esc(message)}</div>`;
}

function infoBox(message) {
  return `<div class="state info">${Fmt.esc(message)}</div>`;
}

// rows: array of objects; columns: [header, (row) => html, "num"?]
function table(columns, rows, onClick) {
  const head = columns.map(([h, , cls]) => `<th class="${cls || ""}">${Fmt.esc(h)}</th>`).join("");
  const body = rows.map((row, i) =>
    `<tr data-i="${i}" class="${onClick ? "clickable" : ""}">${columns.map(([, f, cls]) => `<td class="${cls || ""}">${f(row)}</td>`).join("")}</tr>`
  ).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body || `<tr><td colspan="${columns.length}" class="muted">none</td></tr>`}</tbody></table>`;
}

function bindRows(container, rows, onClick) {
  container.querySelectorAll("tr.clickable").forEach((tr) => tr.addEventListener("click", () => onClick(rows[Number(tr.dataset.i)])));
}

const PALETTE = ["#2f5fd0", "#d0632f", "#1f8f4e", "#9b3fc4", "#c62f6a", "#3a9fb5", "#8a8a2a", "#555"];

// A line chart whose datasets are replaced on each update; the canvas records how often it changed.
class LiveChart {
  constructor(canvas, yTitle) {
    this.canvas = canvas;
    this.updates = 0;
    this.chart = new Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
        interaction: { mode: "index", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 2, tension: 0 } },
        scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } }, x: { ticks: { maxTicksLimit: 8 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }

  // series: [{label, values, dashed, color}]
  update(times, series) {
    this.chart.data.labels = times.map(Fmt.time);
    this.chart.data.datasets = series.map((s, i) => ({
      label: s.label, data: s.values, borderColor: s.color || PALETTE[i % PALETTE.length],
      backgroundColor: s.color || PALETTE[i % PALETTE.length], borderDash: s.dashed ? [6, 4] : [],
    }));
    this.chart.update("none");
    this.updates += 1;
    this.canvas.dataset.updates = String(this.updates);
    this.canvas.dataset.points = String(times.length);
    this.canvas.dataset.lastT = String(times[times.length - 1] || "");
  }

  destroy() {
    this.chart.destroy();
  }
}
