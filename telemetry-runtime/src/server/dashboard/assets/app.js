// The adapter dashboard: renders the frames of /dashboard/events.
// No framework and no outside request; every value goes in through
// textContent, never as markup.
"use strict";

// Errors of the page itself, for people and for the browser test.
window.__errors = window.__errors || [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push("unhandled rejection: " + String(e.reason)));
window.addEventListener("securitypolicyviolation", (e) => window.__errors.push("blocked by the page's policy: " + e.blockedURI));
// Resources that fail to load (capture: their error events do not bubble).
window.addEventListener("error", (e) => {
  if (e.target && e.target !== window && (e.target.src || e.target.href)) {
    window.__errors.push("failed to load " + (e.target.src || e.target.href));
  }
}, true);

const HISTORY = 300;
const RANK = { fail: 2, warn: 1, pass: 0 };
const state = {
  frame: null,
  history: new Map(), // "adapter/host" -> [{t, rate, err, p99, inflight}]
  process: [],
  errors: [], // newest last
  cards: new Map(), // key -> elements
  sections: new Map(), // adapter -> elements
};
window.__dash = { frames: 0, firstDataPaint: null, connected: false, lastFrame: null };

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// ---- formatting -----------------------------------------------------------
function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
  return v.toFixed(digits);
}
const rate = (v) => (v === null || v === undefined ? "—" : num(v, v < 10 ? 1 : 0) + "/s");
const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(v < 0.1 ? 1 : 0) + " %");
const ms = (v) => (v === null || v === undefined ? "—" : v < 10 ? v.toFixed(1) + " ms" : Math.round(v) + " ms");
function bytes(v) {
  if (v === null || v === undefined) return "—";
  const mib = v / (1024 * 1024);
  return mib >= 1024 ? (mib / 1024).toFixed(2) + " GiB" : mib.toFixed(1) + " MiB";
}
function ago(s) {
  if (s < 0) s = 0;
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function clock(t) {
  const d = new Date(t);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// ---- charts ---------------------------------------------------------------
function polyline(points, cls, width, height, max) {
  const n = points.length;
  if (n < 2 || max <= 0) return null;
  const step = width / (HISTORY - 1);
  const x0 = width - step * (n - 1);
  const coords = points.map((v, i) => {
    const y = height - 2 - ((v || 0) / max) * (height - 4);
    return (x0 + i * step).toFixed(1) + "," + y.toFixed(1);
  });
  return svg("polyline", { class: cls, points: coords.join(" ") });
}

function draw(svgEl, series, width, height) {
  while (svgEl.firstChild) svgEl.removeChild(svgEl.firstChild);
  let max = 0;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  for (const s of series) {
    const p = polyline(s.values, s.cls, width, height, max * 1.1);
    if (p) svgEl.appendChild(p);
  }
}

// ---- cards ----------------------------------------------------------------
function metric(grid, label, cls) {
  const m = el("div", "metric");
  m.appendChild(el("span", "label", label));
  const v = el("span", "value " + cls, "—");
  m.appendChild(v);
  grid.appendChild(m);
  return v;
}

function section(adapter) {
  let s = state.sections.get(adapter);
  if (s) return s;
  const root = el("div", "adapter");
  root.dataset.adapter = adapter;
  const head = el("div", "adapter-head");
  head.appendChild(el("h2", null, adapter));
  const info = el("span", "hint");
  head.appendChild(info);
  root.appendChild(head);
  const cards = el("div", "cards");
  root.appendChild(cards);
  $("adapters").appendChild(root);
  s = { root, info, cards };
  state.sections.set(adapter, s);
  return s;
}

function card(h) {
  const key = h.adapter + "/" + h.host;
  let c = state.cards.get(key);
  if (c) return c;
  const root = el("article", "card");
  root.dataset.key = key;
  root.dataset.adapter = h.adapter;
  root.dataset.host = h.host;
  const head = el("div", "card-head");
  head.appendChild(el("h3", null, h.host));
  const st = el("span", "state pass", "ok");
  head.appendChild(st);
  root.appendChild(head);
  const grid = el("div", "grid");
  c = {
    root, st,
    rate: metric(grid, "requests", "v-rate"),
    err: metric(grid, "errors", "v-err"),
    p50: metric(grid, "p50", "v-p50"),
    p99: metric(grid, "p99", "v-p99"),
    retries: metric(grid, "retries", "v-retries"),
    inflight: metric(grid, "in flight", "v-inflight"),
    queue: metric(grid, "limiter queue", "v-queue"),
    sat: metric(grid, "saturation", "v-sat"),
    breaker: metric(grid, "breaker", "v-breaker"),
  };
  root.appendChild(grid);
  const charts = el("div", "charts");
  const chart = (label) => {
    const w = el("div", "chart");
    w.appendChild(el("span", "label", label));
    const s = svg("svg", { class: "spark", viewBox: "0 0 150 36", preserveAspectRatio: "none" });
    w.appendChild(s);
    charts.appendChild(w);
    return s;
  };
  c.rateChart = chart("requests/s (red: failed)");
  c.latChart = chart("p99 ms");
  root.appendChild(charts);
  c.reasons = el("ul", "reasons");
  root.appendChild(c.reasons);
  state.cards.set(key, c);
  return c;
}

function updateCard(h, now) {
  const c = card(h);
  const status = h.status;
  c.root.classList.remove("pass", "warn", "fail");
  c.root.classList.add(status);
  c.root.dataset.status = status;
  c.root.dataset.breaker = h.breaker || "none";
  c.st.className = "state " + status;
  c.st.textContent = status === "pass" ? "ok" : status === "warn" ? "warning" : "failing";
  c.rate.textContent = rate(h.rate);
  c.rate.title = h.requests_total + " attempts in total";
  c.err.textContent = pct(h.error_ratio);
  c.err.className = "value v-err" + (h.error_ratio >= 0.2 ? " bad" : h.error_ratio >= 0.05 ? " meh" : "");
  c.err.title = h.errors_total + " failed attempts in total; " + h.rejections_total + " refused before the wire";
  c.p50.textContent = ms(h.p50_ms);
  c.p99.textContent = ms(h.p99_ms);
  c.retries.textContent = h.retry_rate ? rate(h.retry_rate) : String(h.retries_total);
  c.retries.title = h.retries_total + " retries in total";
  c.inflight.textContent = String(h.in_flight);
  c.queue.textContent = h.queue_depth === null ? "—" : String(h.queue_depth);
  c.sat.textContent = pct(h.saturation);
  c.sat.className = "value v-sat" + (h.saturation >= 0.8 ? " meh" : "");
  let b = h.breaker ? h.breaker.replace("_", "-") : "—";
  if (h.breaker && h.breaker_since) b += " · " + ago((now - h.breaker_since) / 1000);
  c.breaker.textContent = b;
  c.breaker.className = "value v-breaker" + (h.breaker === "open" ? " bad" : h.breaker === "half_open" ? " meh" : "");
  while (c.reasons.firstChild) c.reasons.removeChild(c.reasons.firstChild);
  for (const r of h.reasons) c.reasons.appendChild(el("li", null, r));
  const hist = state.history.get(c.root.dataset.key) || [];
  draw(c.rateChart, [
    { cls: "rate", values: hist.map((p) => p.rate) },
    { cls: "err", values: hist.map((p) => p.rate * (p.err || 0)) },
  ], 150, 36);
  draw(c.latChart, [{ cls: "lat", values: hist.map((p) => p.p99 || 0) }], 150, 36);
}

function trouble(h) {
  return RANK[h.status] * 10 + (h.breaker === "open" ? 5 : 0) + (h.error_ratio || 0);
}

function order(hosts) {
  const how = $("order").value;
  const by = {
    trouble: (a, b) => trouble(b) - trouble(a) || a.host.localeCompare(b.host),
    name: (a, b) => a.host.localeCompare(b.host),
    rate: (a, b) => (b.rate || 0) - (a.rate || 0),
    p99: (a, b) => (b.p99_ms || 0) - (a.p99_ms || 0),
  }[how];
  return hosts.slice().sort(by);
}

// ---- frames ---------------------------------------------------------------
function remember(frame) {
  for (const h of frame.hosts) {
    if (h.rate === null) continue;
    const key = h.adapter + "/" + h.host;
    const hist = state.history.get(key) || [];
    hist.push({ t: frame.t, rate: h.rate, err: h.error_ratio, p99: h.p99_ms, inflight: h.in_flight });
    while (hist.length > HISTORY) hist.shift();
    state.history.set(key, hist);
  }
  state.process.push(frame.process);
  while (state.process.length > HISTORY) state.process.shift();
  for (const e of frame.errors) state.errors.push(e);
  while (state.errors.length > 50) state.errors.shift();
}

function renderErrors() {
  const table = $("errors");
  const body = table.tBodies[0];
  while (body.firstChild) body.removeChild(body.firstChild);
  $("no-errors").hidden = state.errors.length > 0;
  table.hidden = state.errors.length === 0;
  for (const e of state.errors.slice().reverse()) {
    const tr = el("tr");
    tr.appendChild(el("td", "mono", clock(e.t)));
    tr.appendChild(el("td", null, e.adapter + " / " + e.host));
    tr.appendChild(el("td", "mono", e.type + (e.wire ? "" : " (refused)")));
    tr.appendChild(el("td", null, String(e.attempt)));
    tr.appendChild(el("td", "mono", e.correlation_id));
    tr.appendChild(el("td", "detail", e.message));
    body.appendChild(tr);
  }
}

function render() {
  const f = state.frame;
  if (!f) return;
  const hosts = f.hosts;
  $("empty").hidden = hosts.length > 0;
  if (hosts.length === 0) {
    $("empty").textContent = "No data yet: no adapter has sent a request since the process started.";
  }
  // Sections by their worst host, cards by the chosen order.
  const byAdapter = new Map();
  for (const h of hosts) {
    if (!byAdapter.has(h.adapter)) byAdapter.set(h.adapter, []);
    byAdapter.get(h.adapter).push(h);
  }
  const adapters = [...byAdapter.entries()].sort((a, b) =>
    Math.max(...b[1].map(trouble)) - Math.max(...a[1].map(trouble)) || a[0].localeCompare(b[0]));
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const [name, list] of adapters) {
    const s = section(name);
    $("adapters").appendChild(s.root);
    const total = list.reduce((n, h) => n + (h.rate || 0), 0);
    s.info.textContent = list.length + (list.length === 1 ? " host · " : " hosts · ") + rate(total);
    for (const h of order(list)) {
      counts[h.status]++;
      updateCard(h, f.t);
      s.cards.appendChild(state.cards.get(h.adapter + "/" + h.host).root);
    }
  }
  const summary = $("summary");
  while (summary.firstChild) summary.removeChild(summary.firstChild);
  for (const k of ["fail", "warn", "pass"]) {
    if (counts[k]) summary.appendChild(el("span", "pill " + k, counts[k] + (k === "pass" ? " ok" : k === "warn" ? " warning" : " failing")));
  }
  const p = f.process || {};
  $("proc-cpu").textContent = p.cpu_ratio === null || p.cpu_ratio === undefined ? "—" : (p.cpu_ratio * 100).toFixed(1) + " %";
  $("proc-rss").textContent = bytes(p.rss_bytes);
  draw($("proc-chart"), [{ cls: "cpu", values: state.process.map((q) => (q && q.cpu_ratio) || 0) }], 240, 40);
  renderErrors();
  $("footer").textContent = "Served by the process itself; a sample a second over Server-Sent Events; values over the last "
    + f.window_samples + " s; " + f.watchers + (f.watchers === 1 ? " dashboard" : " dashboards") + " connected."
    + (f.idle_adapters.length ? " Adapters without traffic: " + f.idle_adapters.join(", ") + "." : "");
  window.__dash.frames++;
  window.__dash.lastFrame = f;
  if (hosts.length > 0 && window.__dash.firstDataPaint === null) {
    window.__dash.firstDataPaint = performance.now();
  }
}

// ---- the stream -----------------------------------------------------------
function setConn(kind, text) {
  const c = $("conn");
  c.className = "conn conn-" + kind;
  c.textContent = text;
  const banner = $("banner");
  banner.hidden = kind !== "lost";
  if (kind === "lost") banner.textContent = "Stream lost — reconnecting… (the numbers below are from " + (state.frame ? clock(state.frame.t) : "never") + ")";
}

let source = null;
function connect() {
  source = new EventSource("dashboard/events");
  source.addEventListener("open", () => {
    window.__dash.connected = true;
    setConn("live", "live");
  });
  source.addEventListener("snapshot", (e) => {
    const snap = JSON.parse(e.data);
    state.history.clear();
    for (const [key, points] of Object.entries(snap.history.hosts)) state.history.set(key, points);
    state.process = snap.history.process.slice();
    if (snap.frame) {
      state.errors = [];
      for (const err of snap.frame.errors) state.errors.push(err);
      state.frame = snap.frame;
    }
    setConn("live", "live");
    render();
  });
  source.addEventListener("sample", (e) => {
    const frame = JSON.parse(e.data);
    remember(frame);
    state.frame = frame;
    render();
  });
  source.addEventListener("error", () => {
    window.__dash.connected = false;
    setConn("lost", "reconnecting…");
    // The browser retries by itself unless it gave up (closed).
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, 2000);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("order").addEventListener("change", render);
  connect();
});
