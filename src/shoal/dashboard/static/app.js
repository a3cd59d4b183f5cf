// shoal dashboard: one page, no framework. Routes: #/ (studies, studies.js), #/s/NAME (a study), #/s/NAME/t/N
// (a trial), #/compare/A,B (compare.js).
// Reads poll the JSON API every 1.5 s; actions POST with the token in the X-Shoal-Token header.
"use strict";

const POLL_MS = 1500;
const FIGURE_MS = 10000;
const TOKEN_KEY = "shoal-dashboard-token";
const S = { token: null, timer: null, route: null, epoch: null, rev: -1, rows: new Map(), study: null,
  sort: { key: "number", dir: -1 }, formFor: null, logY: null, figuresAt: 0, figuresN: -1,
  space: null, spaceFor: null, actionsKey: null, msg: {} };

// -- small helpers --------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : String(c));
  return node;
}
const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c.nodeType ? c : document.createTextNode(String(c)));
  return node;
}
function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(3) : String(+v.toPrecision(5));
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  return String(v);
}
// A value in a change label: numbers to 4 significant digits without exponent where short ("0.0003").
function short(v) {
  if (typeof v === "number" && !Number.isInteger(v)) return String(+v.toPrecision(4));
  return v === null || v === undefined ? "None" : fmt(v);
}
function changeText(c) { return `${c.name} ${short(c.old)}→${short(c.new)}`; }
function secs(v) { return v === null || v === undefined ? "" : v < 60 ? v.toFixed(1) + " s" : (v / 60).toFixed(1) + " min"; }
const enc = encodeURIComponent;

async function api(path, options) {
  const res = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: res.statusText }; }
  if (!res.ok) { const err = new Error(body.error || res.statusText); err.status = res.status; throw err; }
  return body;
}
async function post(path, body) {
  if (!S.token) { showTokenState("actions need the token printed by `shoal dashboard`", true); }
  try {
    return await api(path, { method: "POST", body: JSON.stringify(body || {}),
      headers: { "Content-Type": "application/json", "X-Shoal-Token": S.token || "" } });
  } catch (err) {
    if (err.status === 403) showTokenState("token refused: paste the one printed at start", true);
    throw err;
  }
}

// -- token ----------------------------------------------------------------------------------
function initToken() {
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token"));
    history.replaceState(null, "", location.pathname + location.hash);  // keep it out of history
  }
  S.token = sessionStorage.getItem(TOKEN_KEY);
  showTokenState(S.token ? "set" : "not set: actions are off", !S.token);
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("token-input");
    S.token = input.value.trim() || null;
    if (S.token) sessionStorage.setItem(TOKEN_KEY, S.token); else sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    showTokenState(S.token ? "set" : "not set: actions are off", !S.token);
  });
}
function showTokenState(text, bad) {
  const span = document.getElementById("token-state");
  span.textContent = text;
  span.className = bad ? "error" : "muted";
}

// -- routing --------------------------------------------------------------------------------
function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  if (raw.startsWith("compare/")) return { view: "compare", names: parseCompare(raw.slice(8)) };
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "s" && parts.length >= 2) {
    if (parts[2] === "t" && parts.length >= 4) return { view: "trial", study: parts[1], number: +parts[3] };
    return { view: "study", study: parts[1] };
  }
  return { view: "studies" };
}
function studyHref(name) { return "#/s/" + enc(name); }
function trialHref(name, n) { return "#/s/" + enc(name) + "/t/" + n; }

function navigate() {
  clearTimeout(S.timer);
  const route = parseRoute();
  if (!S.route || route.study !== S.route.study) { S.rows = new Map(); S.rev = -1; S.study = null; S.formFor = null; S.logY = null; S.figureList = null;
    S.figuresN = -1; }
  S.route = route; S.actionsKey = null; S.msg = {};
  const view = document.getElementById("view");
  view.replaceChildren();
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(el("a", { href: "#/", text: "studies" }));
  if (route.study !== undefined) crumbs.append(" / ", el("a", { href: studyHref(route.study), text: route.study }));
  if (route.view === "trial") crumbs.append(" / ", `trial ${route.number}`);
  if (route.view === "compare") crumbs.append(" / compare");
  tick();
}
async function tick() {
  const route = S.route;
  try {
    if (route.view === "studies") await drawStudies();
    else if (route.view === "study") await drawStudy(route.study);
    else if (route.view === "compare") await drawCompare(route.names);
    else await drawTrial(route.study, route.number);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    const stale = document.getElementById("load-error");
    if (stale) stale.remove();
  } catch (err) {
    const view = document.getElementById("view");
    let box = document.getElementById("load-error");
    if (!box) { box = el("p", { id: "load-error", class: "error" }); view.prepend(box); }
    box.textContent = err.message;
  }
  if (route === S.route) S.timer = setTimeout(tick, POLL_MS);
}
function section(id, build, parent) {  // a stable container in the view (or in parent), created once
  let node = document.getElementById(id);
  if (!node) { node = build(); node.id = id; (parent || document.getElementById("view")).append(node); }
  return node;
}
function fill(node, ...children) { node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); }

// -- one study ------------------------------------------------------------------------------
async function drawStudy(name) {
  const [study, update] = await Promise.all([
    api("/api/studies/" + enc(name)),
    api(`/api/studies/${enc(name)}/trials?since=${S.rev}&epoch=${S.epoch || ""}`),
  ]);
  if (update.epoch !== S.epoch) S.rows = new Map();
  const changed = update.trials.length > 0 || !S.study;
  S.epoch = update.epoch; S.rev = update.rev; S.study = study;
  for (const row of update.trials) S.rows.set(row.number, row);
  drawHeader(study);
  drawStudyNote(study).catch(() => {});  // notes.js
  if (changed) { markTop(study); drawChart(study); }  // redrawn only when a trial changed; markTop: table.js
  drawForm(study);
  if (changed) drawTable(study);
  drawFigures(study).catch(() => {});  // optional: the page never depends on them
}

function drawHeader(study) {
  const box = section("study-head", () => el("div", { class: "panel" }));
  const c = study.counts;
  const counts = ["RUNNING", "QUEUED", "COMPLETE", "PRUNED", "FAILED", "STALE", "PAUSED"]
    .filter((k) => c[k]).map((k) => el("span", { class: "badge state-" + k, text: `${c[k]} ${k.toLowerCase()}` }));
  const button = el("button", { id: "pause-button", class: study.paused ? "primary" : "",
    text: study.paused ? "Unpause study" : "Pause study",
    onclick: async (ev) => {
      ev.target.disabled = true;
      try { await post(`/api/studies/${enc(study.name)}/pause`, { paused: !study.paused }); setMessage("study-message", "", false); }
      catch (err) { setMessage("study-message", err.message, true); }
      finally { clearTimeout(S.timer); tick(); }
    } });
  fill(box,
    el("h2", {}, study.name, study.paused ? el("span", { id: "paused-badge", class: "badge paused", text: "paused" }) : null),
    el("div", { class: "row" },
      el("div", {}, el("span", { class: "muted", text: `${study.direction} · ${study.sampler}${study.scheduler ? " · " + study.scheduler : ""} · ${study.n_trials} trials` }), ...counts,
        el("div", {}, "best value ", el("strong", { id: "best-value", text: study.best_value === null ? "none yet" : fmt(study.best_value) }))),
      el("div", {}, button, " ", deleteButton(study), " ", el("span", { id: "study-message" }))),
    study.paused ? el("p", { class: "banner", text: "Paused: running trials go on, no new trial starts until the study is unpaused." }) : null);
}

function setMessage(id, text, bad) {
  const node = document.getElementById(id);
  if (node) { node.textContent = text; node.className = bad ? "error" : "ok"; }
}

// The best-so-far history: every completed value as a dot, the best so far as a step line (trials that
// miss a constraint are left out: the table strikes them, the analysis history draws them grey).
function drawChart(study) {
  const row = section("overview", () => el("div", { class: "row" }));
  const box = section("history", () => el("div", { class: "panel" }), row);
  const done = [...S.rows.values()].filter((r) => r.state === "COMPLETE" && r.value !== null && r.feasible !== false).sort((a, b) => a.number - b.number);
  const logOk = done.length > 0 && done.every((r) => r.value > 0);
  if (S.logY === null && done.length > 2 && logOk) {  // values over several decades: log scale by default
    const vs = done.map((r) => r.value);
    S.logY = Math.max(...vs) / Math.min(...vs) > 1000;
  }
  const toggle = el("label", { class: "muted" }, el("input", { type: "checkbox", checked: S.logY && logOk, disabled: !logOk,
    onchange: (ev) => { S.logY = ev.target.checked; drawChart(study); } }), " log scale");
  const title = el("div", { class: "chart-head" }, el("h3", { text: `History: best value so far (${study.direction})` }), toggle);
  if (!done.length) { box.replaceChildren(title, el("p", { class: "muted", text: "No completed trial yet." })); return; }
  const useLog = S.logY && logOk;
  const ty = (v) => (useLog ? Math.log10(v) : v);
  const better = study.direction === "maximize" ? (a, b) => a > b : (a, b) => a < b;
  let best = null; const steps = [], dots = [];
  const stride = Math.ceil(done.length / 2000);  // at most about 2000 plain dots: a 50,000-trial plot stays quick
  done.forEach((r, i) => {
    const improved = best === null || better(r.value, best);
    if (improved) { best = r.value; steps.push([r.number, best]); }
    if (improved || i % stride === 0 || T.top.has(r.number)) dots.push([r.number, ty(r.value), improved, T.top.has(r.number)]);
  });
  steps.push([done[done.length - 1].number, best]);
  box.replaceChildren(title, lineChart(dots,
    steps.map(([n, v]) => [n, ty(v)]), { xLabel: "trial", yLabel: useLog ? "log10 value" : "value", id: "history-chart", stepLine: true, width: innerWidth(box), redraw: () => drawChart(study) }));
}

// The width inside a node's padding: a chart drawn that many units wide shows its text at the page's size.
function innerWidth(node) {
  const cs = getComputedStyle(node);
  return node.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
}
// A chart scales with its panel (viewBox): its text is kept at the page's 12 px whatever the scale.
const CHART_FONT_PX = 12, observed = new Map();
const chartFonts = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    if (!target.clientWidth) continue;
    const scale = target.viewBox.baseVal.width / target.clientWidth;
    target.style.setProperty("--chart-font", (CHART_FONT_PX * scale).toFixed(2) + "px");
    if (target.redraw && Math.abs(scale - 1) > 0.1) { const again = target.redraw; target.redraw = null; requestAnimationFrame(again); }
  }
});
function keepFont(chart) {  // one observed chart per id: a redrawn chart replaces the old one
  if (observed.has(chart.id)) chartFonts.unobserve(observed.get(chart.id));
  observed.set(chart.id, chart);
  chartFonts.observe(chart);
}
// Whole numbers in [lo, hi], 1, 2 or 5 times a power of ten apart, at most `most` of them (trials, steps).
function integerTicks(lo, hi, most) {
  const a = Math.ceil(lo), b = Math.floor(hi);
  if (b < a) return [];
  const raw = Math.max(1, (b - a) / (most - 1)), p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw - 1e-9);
  const out = [];
  for (let x = Math.ceil(a / step) * step; x <= b; x += step) out.push(x);
  return out;
}

function lineChart(points, line, opts) {
  const W = Math.max(320, Math.round(opts.width || 720)), H = 260, L = 62, R = 14, T = 12, B = 34;
  const marks = opts.marks || [];
  const xs = points.map((p) => p[0]).concat(line.map((p) => p[0]), marks.map((m) => m.x));
  const ys = points.map((p) => p[1]).concat(line.map((p) => p[1]));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const xTicks = integerTicks(x0, x1, Math.max(4, Math.floor((W - L - R) / 70)));  // of the data, not the padding
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, id: opts.id, role: "img", "aria-label": opts.yLabel + " by " + opts.xLabel });
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    chart.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: Y(y), y2: Y(y) }),
      svg("text", { x: L - 6, y: Y(y) + 4, "text-anchor": "end" }, fmt(+y.toPrecision(3))));
  }
  for (const x of xTicks) chart.append(svg("text", { class: "xtick", x: X(x), y: H - B + 16, "text-anchor": "middle" }, x));
  chart.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }), svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
    svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.xLabel),
    svg("text", { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle" }, opts.yLabel));
  if (line.length) {
    let d = "";
    line.forEach(([x, y], i) => {
      if (i === 0) d += `M${X(x)},${Y(y)}`;
      else d += opts.stepLine ? `H${X(x)}V${Y(y)}` : `L${X(x)},${Y(y)}`;
    });
    if (opts.stepLine) d += `H${X(x1)}`;
    chart.append(svg("path", { class: opts.stepLine ? "best-line" : "report-line", d }));
  }
  marks.forEach((m, i) => {  // a vertical line where hyperparameters changed, labelled with the change
    const x = X(m.x), left = x > W - R - 180;
    chart.append(svg("g", { class: "tweak-mark", "data-step": m.x }, svg("title", {}, `from step ${m.x}: ${m.label}`),
      svg("line", { x1: x, x2: x, y1: T, y2: H - B }),
      svg("text", { x: left ? x - 4 : x + 4, y: T + 10 + (i % 3) * 13, "text-anchor": left ? "end" : "start" }, m.label)));
  });
  for (const [x, y, isBest, isTop] of points) {
    chart.append(svg("circle", { class: (isBest ? "pt best" : "pt") + (isTop ? " top" : ""), cx: X(x), cy: Y(y), r: isTop ? 5 : 3.5, "data-x": x }));
  }
  if (opts.redraw) chart.redraw = () => { if (chart.isConnected) opts.redraw(); };  // at the panel's new width
  keepFont(chart);
  return chart;
}

function rangeHint(spec) {
  if (spec.type === "custom" || spec.type === "choice" || spec.type === "fixed") return "";
  return `${spec.type} in [${fmt(spec.low)}, ${fmt(spec.high)}]` + (spec.scale ? `, ${spec.scale} scale` : "") + (spec.step ? `, step ${fmt(spec.step)}` : "");
}

// The enqueue form, built once per study from its space (polls must not wipe what a person types).
function drawForm(study) {
  if (S.formFor === study.name) return;
  S.formFor = study.name;
  const box = section("enqueue", () => el("div", { class: "panel" }), section("overview", () => el("div", { class: "row" })));
  const form = el("form", { class: "enqueue", id: "enqueue-form", autocomplete: "off" });
  const fields = {};
  for (const [name, spec] of Object.entries(study.space)) {
    let input, hint = "";
    if (spec.type === "choice") {
      input = el("select", { name }, spec.values.map((v, i) => el("option", { value: i, text: fmt(v) === "" ? "None" : fmt(v) })));
    } else if (spec.type === "fixed") {
      input = el("input", { name, value: fmt(spec.value), disabled: true });
      hint = "fixed";
    } else {
      input = el("input", { name, type: "text", inputmode: "decimal", placeholder: spec.type === "custom" ? "a value" : `${fmt(spec.low)} … ${fmt(spec.high)}` });
      hint = rangeHint(spec);
    }
    if (spec.when) hint += (hint ? "; " : "") + "only when " + Object.entries(spec.when).map(([p, vs]) => `${p} ∈ {${vs.map(fmt).join(", ")}}`).join(" and ");
    const label = el("label", { for: "field-" + name, text: name });
    input.id = "field-" + name;
    fields[name] = { spec, input, parts: [label, input] };
    form.append(label, input);
    if (hint) { const h = el("span", { class: "hint muted", text: hint }); fields[name].parts.push(h); form.append(h); }
  }
  const message = el("span", { id: "enqueue-message" });
  form.append(el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "enqueue-button", text: "Enqueue" }), message));
  const active = (spec, config) => !spec.when || Object.entries(spec.when).every(([p, vs]) => p in config && vs.some((v) => JSON.stringify(v) === JSON.stringify(config[p])));
  const collect = () => {
    const config = {};
    for (const [name, { spec, input, parts }] of Object.entries(fields)) {
      const on = active(spec, config);
      for (const p of parts) p.style.display = on ? "" : "none";
      if (!on || spec.type === "fixed") continue;
      if (spec.type === "choice") { config[name] = spec.values[+input.value]; continue; }
      const text = input.value.trim();
      if (text === "") continue;  // left out: the space's default, or sampled when the trial starts
      const num = Number(text);
      if (spec.type !== "custom") config[name] = Number.isFinite(num) ? num : text;
      else { try { config[name] = JSON.parse(text); } catch (e) { config[name] = text; } }
    }
    return config;
  };
  form.addEventListener("change", collect);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const config = collect();
    message.textContent = "";
    try {
      const { trial } = await post(`/api/studies/${enc(study.name)}/enqueue`, { config });
      message.className = "ok";
      message.textContent = `queued as trial ${trial.number}`;
      clearTimeout(S.timer); tick();
    } catch (err) { message.className = "error"; message.textContent = err.message; }
  });
  collect();
  box.replaceChildren(el("h3", { text: "Enqueue a configuration" }),
    el("p", { class: "muted", text: "The next free slot of a running optimize runs it before sampling." }), form);
}

function stopButton(name, number) {
  return el("button", { class: "danger", "data-stop": number, text: "stop", title: "its next report answers stop",
    onclick: async (ev) => {
      ev.stopPropagation();
      ev.target.disabled = true;
      try { await post(`/api/studies/${enc(name)}/trials/${number}/stop`); }
      catch (err) { alert(err.message); }
      clearTimeout(S.timer); tick();
    } });
}

// One plot from shoal.analysis at a time (chosen in a list), when plotly is installed: plotly.js is
// served by the dashboard from the plotly package, never from a CDN. Redrawn when trials completed,
// at most every 10 s (at every poll while fewer than 5 are complete).
async function drawFigures(study, force) {
  const now = Date.now(), done = study.counts.COMPLETE || 0;
  const due = done !== S.figuresN && (now - S.figuresAt >= FIGURE_MS || S.figuresN < 5);
  if (!force && !due) return;
  S.figuresAt = now; S.figuresN = done;
  const listed = (await api(`/api/studies/${enc(study.name)}/figures`)).figures;  // only plots with data
  const keys = (list) => (list || []).map((f) => f.key).join(",");
  const was = document.getElementById("figure-pick")?.value;  // the person's pick stays when the list grows
  if (keys(listed) !== keys(S.figureList)) { S.figureList = listed; document.getElementById("figures")?.remove(); }
  if (!S.figureList.length) return;
  const first = S.figureList.some((g) => g.key === was) ? was
    : S.figureList.some((g) => g.key === "pareto_front") ? "pareto_front" : "parallel_coordinates";
  if (!window.Plotly) await new Promise((ok, fail) => document.head.append(el("script", { src: "/static/plotly.min.js", onload: ok, onerror: fail })));
  const box = section("figures", () => {
    const pick = el("select", { id: "figure-pick", onchange: () => drawFigures(S.study, true).catch(() => {}) },
      S.figureList.map((f) => el("option", { value: f.key, text: f.title, selected: f.key === first })));
    return el("div", { class: "panel" }, el("div", { class: "chart-head" }, el("h3", { text: "Analysis" }), pick),
      el("div", { id: "figure", class: "figure" }));
  });
  const trials = document.getElementById("trials");
  if (trials && box.nextSibling !== trials) trials.before(box);  // above the (long) trial table
  const key = document.getElementById("figure-pick").value;
  const div = document.getElementById("figure");
  try {
    const { figure } = await api(`/api/studies/${enc(study.name)}/figures/${enc(key)}`);
    const fig = JSON.parse(figure);
    div.querySelector("p.muted")?.remove();
    window.Plotly.react(div, fig.data, fig.layout, { displaylogo: false, responsive: true });
  } catch (err) {
    if (window.Plotly) window.Plotly.purge(div);
    fill(div, el("p", { class: "muted", text: err.message }));
  }
}

// -- one trial ------------------------------------------------------------------------------
async function drawTrial(name, number) {
  const t = await api(`/api/studies/${enc(name)}/trials/${number}`);
  const box = section("trial", () => el("div", {}));
  const facts = [["state", el("span", { class: "state state-" + t.state, id: "trial-state", text: t.state })], ["value", fmt(t.value)],
    ...Object.entries(t.values || {}).filter(([k]) => k !== "value").map(([k, v]) => [k, fmt(v)]),
    ...(t.feasible === null || t.feasible === undefined ? [] : [["feasible", t.feasible ? "yes" : "no"]]),
    ["created", t.created_at || ""], ["started", t.started_at || ""], ["finished", t.finished_at || ""], ["duration", secs(t.duration)]];
  if (t.device) facts.push(["device", t.device]);
  if (t.round !== null) facts.push(["round", t.round]);
  if (t.stop_requested) facts.push(["stop", "requested"]);
  if (t.note) facts.push(["note", el("span", { id: "trial-note", text: t.note })]);
  if (t.ended) facts.push(["why ended", el("span", { id: "trial-ended", text: t.ended })]);
  const lineage = [];
  if (t.lineage.repeats.length) lineage.push("repeats ", ...t.lineage.repeats.flatMap((n, i) => [i ? " ← " : "", el("a", { href: trialHref(name, n), text: "trial " + n })]));
  if (t.lineage.repeated_by.length) lineage.push(lineage.length ? "; " : "", "repeated by ", ...t.lineage.repeated_by.flatMap((n, i) => [i ? ", " : "", el("a", { href: trialHref(name, n), text: "trial " + n })]));
  if (lineage.length) facts.push(["lineage", el("span", { id: "lineage" }, lineage)]);
  const now = t.current_config || t.config, pending = t.pending_changes || {};
  const configRows = Object.entries(t.config).map(([k, v]) => el("tr", { "data-name": k }, el("th", { text: k }),
    el("td", { class: "num", text: fmt(v) + (JSON.stringify(now[k]) !== JSON.stringify(v) ? ` → ${fmt(now[k])}` : "") }),
    k in pending ? el("td", { class: "muted", text: `pending ${fmt(pending[k])}` }) : null));
  const reportsPanel = el("div", { class: "panel" }, el("h3", { text: "Reports" }));
  fill(box,
    el("h2", {}, `Trial ${t.number}`, t.state === "RUNNING" && !t.stop_requested ? el("span", {}, " ", stopButton(name, t.number)) : null),
    el("div", { class: "row" },
      el("div", { class: "panel" }, el("h3", { text: "Facts" }), el("dl", { class: "facts" }, facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]))),
      el("div", { class: "panel" }, el("h3", { text: "Configuration" }), el("table", { id: "config-table" }, el("tbody", {}, configRows)))),
    reportsPanel,
    schedulePanel(t),
    t.error ? el("div", { class: "panel" }, el("h3", { text: "Error" }), el("pre", { id: "trial-error", text: t.error })) : null);
  reportsPanel.append(...(t.reports.length  // drawn once the panel is in the page, at its width
    ? [lineChart(t.reports.map(([s, v]) => [s, v, false]), t.reports, { xLabel: "step", yLabel: "reported value", id: "reports-chart", marks: tweakMarks(t.changes), width: innerWidth(reportsPanel) }),
      el("p", { class: "muted", text: t.reports.map(([s, v]) => `step ${s}: ${fmt(v)}`).join(" · ") })]
    : [el("p", { class: "muted", text: "No intermediate reports." })]));
  drawTrialNote(name, t);  // notes.js
  await drawTrialActions(name, t);  // steer.js: the tweak and fork forms
}

// -- start ----------------------------------------------------------------------------------
initToken();
api("/api/session").then((s) => { document.getElementById("storage").textContent = s.storage; }).catch(() => {});
window.addEventListener("hashchange", navigate);
navigate();
