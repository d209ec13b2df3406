// The delever console: everything it shows comes from the JSON API and the /api/stream events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { limits: null, steps: [], hf: { x: [], y: [] }, prices: {}, cursor: 0, alerts: [] };
  window.delever = { latencies: [], firstDataMs: null, updates: 0, marks: {} };
  const mark = (name) => { if (!(name in window.delever.marks)) window.delever.marks[name] = performance.now(); };

  const fmt = (v, digits) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US",
    { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const hf4 = (v) => (v === null || v === undefined ? "∞" : Number(v).toFixed(4));
  const when = (ts) => (ts ? new Date(ts * 1000).toISOString().slice(11, 19) : "");
  const text = (el, value) => { el.textContent = value; return el; };
  const cell = (tag, value) => text(document.createElement(tag), value === null || value === undefined ? "" : value);

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function chip(el, label, kind) { text(el, label); el.className = "chip " + (kind || ""); }

  function renderControl(control) {
    if (!control) { chip($("control"), "no journal yet", ""); return; }
    const kind = control.state === "NORMAL" ? "ok" : control.state === "HALTED" ? "bad" : "warn";
    chip($("control"), control.state + (control.reason ? ": " + control.reason : ""), kind);
  }

  function renderLimits(limits) {
    state.limits = limits;
    if (limits.steps) state.steps = limits.steps;
    chip($("mode"), limits.mode, limits.mode === "live" ? "bad" : "");
    renderControl(limits.control);
    const lines = [["trigger", limits.hf_trigger], ["target", limits.hf_target], ["floor", limits.hf_floor]];
    text($("hf-lines"), lines.filter((l) => l[1]).map((l) => l[0] + " " + l[1]).join(" · "));
    text($("daily"), "$" + fmt(limits.sold_today_usd, 0) + " / $" + fmt(limits.max_daily_usd, 0));
    const used = Number(limits.sold_today_usd) / Number(limits.max_daily_usd);
    $("daily-bar").style.width = Math.min(100, 100 * used).toFixed(1) + "%";
    text($("batch-limit"), "per batch ≤ $" + fmt(limits.max_batch_usd, 0));
    for (const id of ["stop", "clear-halt", "token"]) $(id).disabled = !limits.controls;
    const result = $("control-result");
    if (!limits.controls) text(result, "read-only: no console token configured");
    else if (result.textContent.startsWith("read-only")) text(result, "");
  }

  function hfLines() {
    const l = state.limits || {};
    const lines = [["trigger", l.hf_trigger, "#e8a33d"], ["target", l.hf_target, "#3aa675"], ["floor", l.hf_floor, "#d93b3b"]];
    return lines.filter((x) => x[1]).map((x) => ({
      type: "line", xref: "paper", x0: 0, x1: 1, y0: Number(x[1]), y1: Number(x[1]),
      line: { color: x[2], dash: "dash", width: 1 }, label: { text: x[0], textposition: "end" },
    }));
  }

  function renderStatus(s) {
    if (s.error) { chip($("link"), s.error, "bad"); return; }
    const hf = s.health_factor;
    const el = $("hf-value");
    text(el, hf4(hf));
    el.dataset.hf = hf === null ? "" : hf;
    text($("distance"), s.distance_to_liquidation_pct === null ? "—" : s.distance_to_liquidation_pct + " %");
    text($("liq"), s.collateral.filter((c) => c.liquidation_price_usd).map((c) =>
      c.symbol + " $" + fmt(c.price_usd, 2) + " → liquidation $" + fmt(c.liquidation_price_usd, 2)).join(" · "));
    text($("wallet"), s.wallet);
    text($("block"), "block " + s.block);
    if (s.journal) renderControl({ state: s.journal.control, reason: s.journal.reason });
    const t = new Date(s.timestamp * 1000);
    if (hf !== null) { state.hf.x.push(t); state.hf.y.push(Number(hf)); }
    for (const c of s.collateral) {
      const p = state.prices[c.symbol] || (state.prices[c.symbol] = { x: [], price: [], liq: [] });
      p.x.push(t); p.price.push(Number(c.price_usd));
      p.liq.push(c.liquidation_price_usd === null ? null : Number(c.liquidation_price_usd));
    }
    drawCharts();
    if (window.delever.firstDataMs === null) window.delever.firstDataMs = performance.now();
  }

  let revision = 0;
  function drawCharts() {
    if (!window.Plotly) return;
    revision += 1;  // the traces' arrays grow in place: tell Plotly.react they changed
    const layout = (title) => ({ datarevision: revision, title: { text: title, font: { size: 13 } }, margin: { l: 50, r: 20, t: 30, b: 30 },
      showlegend: true, legend: { orientation: "h" } });
    Plotly.react("hf-chart", [{ x: state.hf.x, y: state.hf.y, name: "HF", mode: "lines+markers", line: { color: "#3b6fd9" } }],
      Object.assign(layout("Health factor"), { shapes: hfLines() }), { displayModeBar: false, responsive: true });
    const traces = [];
    for (const [symbol, p] of Object.entries(state.prices)) {
      traces.push({ x: p.x, y: p.price, name: symbol + " price", mode: "lines" });
      traces.push({ x: p.x, y: p.liq, name: symbol + " liquidation", mode: "lines", line: { dash: "dot" } });
    }
    Plotly.react("price-chart", traces, layout("Price vs liquidation price (USD)"), { displayModeBar: false, responsive: true });
  }

  function renderBatch(batch) {
    const list = $("timeline");
    list.replaceChildren();
    if (!batch) { text($("batch-title"), "none yet"); return; }
    const open = batch.status === "OPEN";
    text($("batch-title"), "#" + batch.seq + " " + batch.status + (open ? " since " + when(batch.started_at) : " in " + batch.duration_s + " s"));
    const legs = Object.fromEntries(batch.legs.map((l) => [l.step, l]));
    const names = batch.steps || (state.steps.length ? state.steps : batch.legs.map((l) => l.step));
    for (const name of names) {
      const leg = legs[name];
      const li = document.createElement("li");
      li.dataset.step = name;
      li.className = leg ? leg.status : "WAITING";
      li.append(cell("div", name), cell("div", leg ? leg.status : "—"));
      li.firstChild.className = "step";
      if (leg) {
        li.append(cell("div", when(leg.started_at) + " · " + leg.seconds + " s" + (leg.attempts > 1 ? " · " + leg.attempts + " tries" : "")));
        if (leg.detail) {
          const detail = cell("div", leg.detail.length > 140 ? leg.detail.slice(0, 140) + "…" : leg.detail);
          detail.className = "detail";
          detail.title = leg.detail;
          li.append(detail);
        }
      }
      list.append(li);
    }
    const f = batch.fill;
    text($("batch-fill"), f ? "sold " + f.filled + " of " + f.requested + " " + batch.collateral + " at " + f.avg_price +
      " (floor " + f.floor_price + ")" : "");
  }

  function renderHistory(batches) {
    const table = $("history");
    const head = ["#", "status", "started", "s", "withdrawn", "sold", "avg price", "repaid", "HF before", "HF after"];
    const rows = [head.map((h) => cell("th", h))];
    for (const b of batches.slice().reverse()) {
      rows.push([b.seq, b.status, when(b.started_at), b.duration_s, b.withdrawn, b.sold, b.avg_price, b.repaid,
        b.hf_before && hf4(b.hf_before), b.hf_after && hf4(b.hf_after)].map((v) => cell("td", v)));
    }
    table.replaceChildren(...rows.map((r) => { const tr = document.createElement("tr"); tr.append(...r); return tr; }));
  }

  function renderAlerts(events) {
    for (const e of events) if (e.alert) state.alerts.push(e);
    state.alerts = state.alerts.slice(-50);
    $("alerts").replaceChildren(...state.alerts.slice().reverse().map((e) =>
      cell("li", when(e.ts) + " " + e.kind + (e.step ? " " + e.step : "") + (e.detail ? ": " + e.detail : ""))));
    if (!state.alerts.length) $("alerts").replaceChildren(cell("li", "none"));
  }

  function renderPlan(plan) {
    text($("plan-summary"), plan.status + (plan.reason ? ": " + plan.reason : "") +
      (plan.final_health_factor ? " · HF → " + hf4(plan.final_health_factor) : ""));
    const head = ["#", "withdraw", "worst price", "slippage bps", "repay", "HF after withdraw", "HF after repay", "s"];
    const rows = [head.map((h) => cell("th", h))];
    for (const b of plan.batches) {
      rows.push([b.index, b.withdraw_amount + " " + b.collateral, b.worst_price, b.slippage_bps, b.repay_amount + " " + b.debt,
        hf4(b.hf_after_withdraw), hf4(b.hf_after_repay), b.duration_s].map((v) => cell("td", v)));
    }
    $("plan").replaceChildren(...rows.map((r) => { const tr = document.createElement("tr"); tr.append(...r); return tr; }));
  }

  function onJournal(update) {
    if (update.limits) renderLimits(Object.assign({}, state.limits || {}, update.limits));
    renderControl(update.control);
    const batches = update.batches || [];
    renderBatch(batches.length ? batches[batches.length - 1] : null);
    renderAlerts(update.events || []);
    if ((update.events || []).some((e) => e.kind.startsWith("batch:"))) { refreshHistory(); refreshPlan(); }
    const last = (update.events || []).slice(-1)[0];
    window.delever.updates += 1;
    // Journal write → on the page (the first update is the backlog, not a write just made).
    if (last && window.delever.updates > 1) {
      requestAnimationFrame(() => window.delever.latencies.push(Date.now() / 1000 - last.ts));
    }
  }

  async function refreshHistory() {
    try { renderHistory((await getJSON("/api/batches?limit=200")).batches); } catch (e) { /* shown by the link chip */ }
  }

  async function refreshPlan() {
    try { renderPlan(await getJSON("/api/plan")); } catch (e) { text($("plan-summary"), "unavailable: " + e.message); }
  }

  async function control(path) {
    const result = $("control-result");
    try {
      const response = await fetch(path, { method: "POST", body: "{}",
        headers: { "Content-Type": "application/json", "X-Delever-Token": $("token").value } });
      const body = await response.json();
      text(result, response.ok ? body.message : "refused: " + body.error);
    } catch (e) { text(result, "failed: " + e.message); }
  }

  function connect() {
    const stream = new EventSource("/api/stream");
    stream.addEventListener("open", () => { mark("stream_open"); chip($("link"), "live", "ok"); });
    stream.addEventListener("error", () => chip($("link"), "reconnecting…", "warn"));
    stream.addEventListener("journal", (e) => onJournal(JSON.parse(e.data)));
    stream.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  }

  // plotly.js loads async (4 MB): the numbers show first, the charts once it is there.
  window.addEventListener("load", () => { mark("plotly_loaded"); drawCharts(); });
  document.addEventListener("DOMContentLoaded", async () => {
    mark("dom_ready");
    $("stop").addEventListener("click", () => control("/api/stop"));
    $("clear-halt").addEventListener("click", () => control("/api/clear-halt"));
    connect();
    try { renderLimits(await getJSON("/api/limits")); } catch (e) { chip($("link"), e.message, "bad"); }
    refreshHistory();
    refreshPlan();
    setInterval(refreshPlan, 15000);
  });
})();
