// The live dashboard: polls the read endpoints, draws holdings against target and equity, and
// sends approve/reject/pause/resume with the bearer token the user types (kept in this page only).
"use strict";

const REFRESH_MS = Number(document.body.dataset.refreshMs) || 5000;
const COLORS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#f97316", "#84cc16"];
const PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };
let lastToken = "";

const $ = (id) => document.getElementById(id);
const pct = (x, digits = 1) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(digits)}%`);
const num = (x, digits = 2) => (x === null || x === undefined ? "–"
  : x.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
// Daily closes are stamped at midnight UTC: show those as dates, anything else as local time.
const when = (iso) => (!iso ? "–" : /T00:00:00(\.0+)?Z$/.test(iso)
  ? new Date(iso).toLocaleDateString(undefined, { timeZone: "UTC" }) : new Date(iso).toLocaleString());

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.json().catch(() => ({}))).detail || ""}`);
  return r.json();
}

function say(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
}

function askToken(title, detail) {
  const dialog = $("token-dialog");
  $("token-title").textContent = title;
  $("token-detail").textContent = detail;
  const input = $("token-input");
  input.value = lastToken;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value.trim() : null),
      { once: true });
    dialog.showModal();
    input.focus();
  });
}

async function mutate(path, title, detail, done) {
  const token = await askToken(title, detail);
  if (token === null) return;
  if (!token) { say("refused: no token entered", "error"); return; }
  const r = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  const body = await r.json().catch(() => ({}));
  if (r.ok) {
    lastToken = token;
    say(done(body), "ok");
  } else if (r.status === 401 || r.status === 403) {
    lastToken = "";
    say(`refused (${r.status}): ${body.detail || "not authorised"}`, "error");
  } else {
    say(`${r.status}: ${body.detail || "request failed"}`, "error");
  }
  refresh();
}

function renderStatus(s) {
  const svc = s.service;
  $("strategy").textContent = svc.strategy ? `· ${svc.strategy}` : "";
  $("service-line").textContent = [svc.executor && `executor ${svc.executor}`, svc.source && `source ${svc.source}`,
    svc.dry_run ? "dry run" : null, svc.heartbeat_at && `heartbeat ${when(svc.heartbeat_at)}`]
    .filter(Boolean).join(" · ") || "no service has run on this ledger yet";
  const badge = $("state-badge");
  // "running" only while a runner holds the ledger's lease (a killed service shows as stopped)
  const run = svc.running ? "running" : `stopped${svc.heartbeat_at ? ` · last seen ${when(svc.heartbeat_at)}` : ""}`;
  badge.textContent = svc.paused ? `paused${svc.pause_reason ? `: ${svc.pause_reason}` : ""} · ${run}` : run;
  badge.className = `badge ${svc.paused ? "paused" : svc.running ? "running" : "stopped"}`;
  $("pause").hidden = Boolean(svc.paused);  // offer only the action that applies
  $("resume").hidden = !svc.paused;
  $("kpi-value").textContent = num(s.value);
  $("kpi-drift").textContent = pct(s.max_drift, 2);
  $("kpi-cycle").textContent = s.last_cycle ? `${when(s.last_cycle.observed_at)} · ${s.last_cycle.status}` : "–";
  $("kpi-proposals").textContent = (s.counts.proposals_by_state || {}).pending || 0;
  $("kpi-alerts").textContent = s.counts.open_alerts ?? 0;
  // runway: the reserve (plus its yield) over the strategy's spend a month, from the ledger
  const rw = s.runway;
  $("kpi-runway-box").hidden = !rw;
  if (rw) {
    $("kpi-runway").textContent = rw.infinite ? "∞ (yield covers spend)" : `${num(rw.months, 1)} months`;
    $("kpi-runway").title = `${rw.reserve_asset} reserve ${num(rw.reserve_value)}, spend ${num(rw.spend_per_month)} a month`;
  }
}

function renderHoldings(rows) {
  const body = $("holdings").querySelector("tbody");
  body.replaceChildren(...rows.map((r) => el("tr", { "data-asset": r.asset },
    el("td", {}, r.asset), el("td", {}, num(r.units, 4)), el("td", {}, num(r.price)), el("td", {}, num(r.value)),
    el("td", {}, pct(r.weight, 2)), el("td", {}, pct(r.target, 2)),
    el("td", {}, r.band === null ? "–" : `± ${pct(r.band, 2)}`),
    el("td", { class: r.outside_band === null ? "" : r.outside_band ? "out" : "in" },
      r.drift === null ? "–" : `${r.drift >= 0 ? "+" : ""}${pct(r.drift, 2)}`))));
  const assets = rows.map((r) => r.asset);
  const withTarget = rows.filter((r) => r.target !== null);
  const traces = [{
    type: "bar", orientation: "h", y: assets, x: rows.map((r) => r.weight), name: "weight",
    marker: { color: rows.map((_, i) => COLORS[i % COLORS.length]) },
    hovertemplate: "%{y}: %{x:.2%}<extra>weight</extra>",
  }, {
    type: "scatter", mode: "markers", y: withTarget.map((r) => r.asset), x: withTarget.map((r) => r.target),
    name: "target ± band", marker: { symbol: "diamond", size: 11, color: "#111827" },
    error_x: { type: "data", array: withTarget.map((r) => r.band || 0), visible: true, color: "#111827",
      thickness: 2, width: 8 },
    hovertemplate: "%{y} target %{x:.2%}<extra></extra>",
  }];
  Plotly.react("weights-chart", traces, {
    margin: { l: 70, r: 20, t: 10, b: 30 }, height: Math.max(160, 60 + 44 * rows.length),
    xaxis: { tickformat: ".0%", rangemode: "tozero", gridcolor: "#eef0f3" }, yaxis: { autorange: "reversed" },
    showlegend: true, legend: { orientation: "h", y: -0.2 }, plot_bgcolor: "white", paper_bgcolor: "white",
  }, PLOT_CONFIG);
}

function renderEquity(points) {
  Plotly.react("equity-chart", [{
    type: "scatter", mode: "lines", x: points.map((p) => p.observed_at), y: points.map((p) => p.value),
    line: { color: "#2563eb", width: 2 },
    hovertemplate: "%{x}<br>%{y:,.2f}<extra></extra>",
  }], {
    margin: { l: 70, r: 20, t: 10, b: 40 }, height: 300, plot_bgcolor: "white", paper_bgcolor: "white",
    yaxis: { gridcolor: "#eef0f3", rangemode: "normal" }, xaxis: { showgrid: false },
  }, PLOT_CONFIG);
}

function renderDrift(points, holdings) {
  const assets = holdings.map((r) => r.asset).filter((a) => points.some((p) => a in p.drift));
  const x = points.map((p) => p.observed_at);
  const traces = assets.map((a, i) => ({
    type: "scatter", mode: "lines", name: a, x, y: points.map((p) => (a in p.drift ? p.drift[a] : null)),
    line: { color: COLORS[i % COLORS.length], width: 1.5 }, hovertemplate: `${a} %{y:+.2%}<extra></extra>`,
  }));
  const bands = [...new Set(holdings.filter((r) => r.band !== null).map((r) => r.band.toFixed(6)))];
  const shapes = bands.length === 1 && x.length ? [{
    type: "rect", xref: "paper", x0: 0, x1: 1, y0: -Number(bands[0]), y1: Number(bands[0]),
    fillcolor: "rgba(16,185,129,0.12)", line: { width: 0 }, layer: "below",
  }] : [];
  Plotly.react("drift-chart", traces, {
    margin: { l: 70, r: 20, t: 10, b: 40 }, height: 300, plot_bgcolor: "white", paper_bgcolor: "white",
    yaxis: { tickformat: "+.0%", gridcolor: "#eef0f3", zeroline: true, zerolinecolor: "#9ca3af" },
    xaxis: { showgrid: false }, shapes, hovermode: "x unified", legend: { orientation: "h", y: 1.08 },
  }, PLOT_CONFIG);
}

function renderProposals(items) {
  const box = $("proposals");
  const open = items.filter((p) => p.state === "pending" || p.state === "approved" || p.state === "executing" || p.state === "exported");
  const card = (p) => {
    const trades = (p.payload.trades || []).map((t) => `${t.side} ${num(t.quantity, 4)} ${t.asset}`).join(", ");
    const node = el("div", { class: "proposal", "data-proposal": String(p.id) },
      el("div", { class: "head" }, el("strong", {}, `Proposal #${p.id}`),
        el("span", { class: `state ${p.state}`, "data-role": "state" }, p.state)),
      el("div", { class: "reason" }, p.payload.reason || ""),
      el("div", { class: "trades" }, `${trades || "no trades"} · expected cost ${num(p.payload.expected_cost)}`));
    if (p.state === "pending") {
      const approve = el("button", { class: "btn approve", "data-action": "approve" }, "Approve");
      const reject = el("button", { class: "btn reject", "data-action": "reject" }, "Reject");
      approve.onclick = () => mutate(`/proposals/${p.id}/approve`, `Approve proposal #${p.id}?`,
        p.payload.reason || "", (o) => `proposal #${o.id} ${o.state}`);
      reject.onclick = () => mutate(`/proposals/${p.id}/reject`, `Reject proposal #${p.id}?`,
        p.payload.reason || "", (o) => `proposal #${o.id} ${o.state}`);
      node.append(el("div", { class: "buttons" }, approve, reject));
    }
    return node;
  };
  const nodes = open.map(card);
  box.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "empty" }, "no open proposals")]));
}

function renderDecisions(items) {
  const body = $("decisions").querySelector("tbody");
  body.replaceChildren(...items.map((d) => el("tr", {},
    el("td", {}, d.id), el("td", {}, when(d.observed_at)), el("td", {}, d.reason),
    el("td", {}, el("span", { class: `state ${d.state}` }, d.state)), el("td", {}, num(d.notional)),
    el("td", {}, num(d.expected_cost)))));
  if (!items.length) body.replaceChildren(el("tr", {}, el("td", { class: "empty", colSpan: 6 }, "no decisions yet")));
}

function renderLoans(loans, points) {
  // loans at the paper lending market: HF now and per cycle, with the band's lines
  $("loans-box").hidden = !loans.length;
  if (!loans.length) return;
  const band = (b) => (b ? `repay < ${b.repay_below} → ${b.repay_to}` +
    (b.boost_above === null ? "" : ` · boost > ${b.boost_above} → ${b.boost_to}`) : "–");
  $("loans").querySelector("tbody").replaceChildren(...loans.map((l) => el("tr", { "data-loan": l.name },
    el("td", {}, l.name),
    el("td", { class: l.health_factor !== null && l.warn_at !== null && l.health_factor < l.warn_at ? "out" : "in",
      "data-role": "hf" }, l.health_factor === null ? "∞ (no debt)" : num(l.health_factor, 4)),
    el("td", {}, Object.entries(l.collateral).map(([a, c]) => `${num(c.units, 4)} ${a}`).join(", ")),
    el("td", {}, `${num(l.debt)} ${l.debt_asset}`), el("td", {}, num(l.net_value)),
    el("td", {}, l.liquidation_price === null ? "–" : num(l.liquidation_price)), el("td", {}, band(l.band)),
    el("td", {}, `${l.repays} / ${l.boosts} / ${l.liquidations}`))));
  const x = [...new Set(points.map((p) => p.observed_at))];
  const traces = loans.map((l, i) => {
    const mine = points.filter((p) => p.loan === l.name);
    return { type: "scatter", mode: "lines", name: l.name, x: mine.map((p) => p.observed_at),
      y: mine.map((p) => p.health_factor), line: { color: COLORS[i % COLORS.length], width: 2 },
      hovertemplate: `${l.name} HF %{y:.3f}<extra></extra>` };
  });
  const line = (y, color, dash) => ({ type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y,
    line: { color, width: 1, dash } });
  const b = loans[0].band;
  const shapes = x.length ? [line(1, "#dc2626", "solid"), ...(b ? [line(b.repay_below, "#d97706", "dash"),
    ...(b.boost_above === null ? [] : [line(b.boost_above, "#059669", "dash")])] : [])] : [];
  Plotly.react("health-chart", traces, {
    margin: { l: 70, r: 20, t: 10, b: 40 }, height: 260, plot_bgcolor: "white", paper_bgcolor: "white",
    yaxis: { gridcolor: "#eef0f3", rangemode: "tozero" }, xaxis: { showgrid: false }, shapes,
    legend: { orientation: "h", y: 1.08 },
  }, PLOT_CONFIG);
}

function renderLiquidity(lp) {
  // the concentrated-liquidity position: range, in-range flag, fees
  $("liquidity-box").hidden = !lp;
  if (!lp) return;
  $("liquidity").querySelector("tbody").replaceChildren(el("tr", {},
    el("td", {}, lp.pair.join("/")), el("td", {}, `${num(lp.lower)} – ${num(lp.upper)}`),
    el("td", { class: lp.in_range ? "in" : "out", "data-role": "in-range" }, lp.in_range ? "yes" : "no"),
    el("td", {}, num(lp.value)), el("td", {}, num(lp.fees)), el("td", {}, lp.resets),
    el("td", {}, lp.time_in_range === null ? "–" : `${num(100 * lp.time_in_range, 0)} %`)));
}

function renderHedge(h) {
  // the delta hedge: delta, band, the perp's size, uPnL, margin, funding and fees
  $("hedge-box").hidden = !h;
  if (!h) return;
  $("hedge").querySelector("tbody").replaceChildren(el("tr", {},
    el("td", {}, h.instrument), el("td", { "data-role": "delta" }, h.delta === null ? "–" : num(h.delta)),
    el("td", { "data-role": "band" }, h.band === null ? "–" : `${num(h.band[0])} – ${num(h.band[1])}`),
    el("td", { "data-role": "size" }, num(h.size)), el("td", {}, num(h.unrealised_pnl)), el("td", {}, num(h.margin)),
    el("td", { "data-role": "funding" }, num(h.funding_paid)), el("td", {}, num(h.fees)), el("td", {}, h.rehedges)));
  $("hedge-last").textContent = h.last_rehedge ? `last re-hedge (period ${h.last_rehedge.period}): ${h.last_rehedge.reason}` : "";
}

function renderAlerts(items) {
  const list = $("alerts");
  list.replaceChildren(...items.map((a) => el("li", { class: a.level },
    el("span", { class: "level" }, a.level), `${a.message} `,
    el("span", { class: "muted" }, `${when(a.created_at)}${a.open ? "" : " · resolved"}`))));
  if (!items.length) list.replaceChildren(el("li", { class: "empty" }, "no alerts"));
}

async function refresh() {
  try {
    const [status, holdings, equity, drift, proposals, decisions, alerts] = await Promise.all([
      getJSON("/status"), getJSON("/holdings"), getJSON("/equity?limit=20000"), getJSON("/drift?limit=20000"),
      getJSON("/proposals?limit=50"), getJSON("/decisions?limit=15"), getJSON("/alerts?limit=20")]);
    renderLoans(status.loans || [], status.loans && status.loans.length ? await getJSON("/loans/health?limit=20000") : []);
    renderLiquidity(status.liquidity || null);
    renderHedge(status.hedge || null);
    renderStatus(status);
    renderHoldings(holdings);
    renderEquity(equity);
    renderDrift(drift, holdings);
    renderProposals(proposals);
    renderDecisions(decisions);
    renderAlerts(alerts);
    $("updated").textContent = new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (err) {
    say(`cannot reach the server: ${err.message}`, "error");
  }
}

$("pause").onclick = () => mutate("/pause", "Pause trading?", "Observation continues; no new trades.",
  () => "trading paused");
$("resume").onclick = () => mutate("/resume", "Resume trading?", "The service trades again from the next cycle.",
  () => "trading resumed");
refresh();
setInterval(refresh, REFRESH_MS);
