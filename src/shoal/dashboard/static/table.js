// shoal dashboard, a study's trial table: filters (state, a value range, an expression over the
// hyperparameters, free text), the columns shown (kept in localStorage), pages of PAGE_ROWS rows, the
// visible rows as a CSV download, and the best trial (several objectives: the Pareto front) marked.
// Loaded before app.js, whose helpers (el, fmt, secs, S, stopButton, trialHref) it calls at run time.
"use strict";

const PAGE_ROWS = 100;
const COLUMNS_KEY = "shoal-dashboard-columns:";
const STATES = ["QUEUED", "RUNNING", "PAUSED", "COMPLETE", "PRUNED", "FAILED", "STALE"];
const T = { study: null, page: 0, hidden: new Set(), top: new Set(), filter: null, filterError: "", texts: new WeakMap() };

// -- which trials are the best ------------------------------------------------------------------
function objectivesOf(study) {
  return study.objectives && study.objectives.objectives ? study.objectives.objectives : [["value", study.direction]];
}
// The best completed trial that meets the constraints, or with several objectives the Pareto front.
function topTrials(study, rows) {
  const objs = objectivesOf(study);
  const done = rows.filter((r) => r.state === "COMPLETE" && r.feasible !== false && r.value !== null);
  if (objs.length < 2) {
    const max = study.direction === "maximize";
    let best = null;
    for (const r of done) if (best === null || (max ? r.value > best.value : r.value < best.value)) best = r;
    return new Set(best ? [best.number] : []);
  }
  const sign = objs.map(([, d]) => (d === "maximize" ? -1 : 1));  // every objective minimised
  const points = done.map((r) => [r.number, objs.map(([k], i) => (r.values || {})[k] * sign[i])])
    .filter(([, p]) => p.every((v) => Number.isFinite(v))).sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]);
  const dominates = (a, b) => a.every((v, i) => v <= b[i]) && a.some((v, i) => v < b[i]);
  const front = [];
  for (const [n, p] of points) if (!front.some(([, q]) => dominates(q, p))) front.push([n, p]);  // sorted: no later point dominates
  return new Set(front.map(([n]) => n));
}
function markTop(study) { T.top = topTrials(study, [...S.rows.values()]); }

// -- the filter expression: "lr < 1e-3, opt = adam" ----------------------------------------------
const CLAUSE = /^\s*([A-Za-z_][\w.\-]*)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$/;
function literal(text) {
  if (/^(['"]).*\1$/.test(text)) return text.slice(1, -1);
  if (text !== "" && Number.isFinite(Number(text))) return Number(text);
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === "true";
  if (/^(none|null)$/i.test(text)) return null;
  return text;
}
// A test of a row, or an Error naming what is wrong with the expression.
function parseFilter(text, study) {
  const dims = Object.keys(study.space);
  const objs = objectivesOf(study).map(([k]) => k);
  const getters = { number: (r) => r.number, state: (r) => r.state, value: (r) => r.value, duration: (r) => r.duration,
    reports: (r) => r.n_reports, device: (r) => r.device, ended: (r) => r.ended };
  for (const k of objs) if (!(k in getters)) getters[k] = (r) => (r.values || {})[k];
  for (const d of dims) getters[d] = (r) => r.config[d];
  const tests = [];
  for (const clause of text.split(/,|\band\b/i).map((c) => c.trim()).filter(Boolean)) {
    const m = CLAUSE.exec(clause);
    if (!m) throw new Error(`cannot read "${clause}": write NAME OP VALUE, OP one of < <= > >= = !=, e.g. lr < 1e-3, opt = adam`);
    const [, name, op, raw] = m;
    const get = getters[name] || getters[name.replace(/^(config|values)\./, "")];
    if (!get) throw new Error(`unknown name "${name}" in "${clause}": use a hyperparameter (${dims.join(", ") || "none"}) or ${Object.keys(getters).filter((k) => !dims.includes(k)).join(", ")}`);
    if (raw === "") throw new Error(`"${clause}" has no value after ${op}`);
    const want = literal(raw);
    if (["<", "<=", ">", ">="].includes(op) && typeof want !== "number") throw new Error(`"${clause}": ${op} needs a number, got ${raw}`);
    const same = (v) => v === want || (typeof v === "number" && typeof want === "number" ? v === want : String(v).toLowerCase() === String(want).toLowerCase());
    const cmp = { "<": (v) => v < want, "<=": (v) => v <= want, ">": (v) => v > want, ">=": (v) => v >= want }[op];
    tests.push((r) => {
      const v = get(r);
      if (op === "!=") return v === undefined || !same(v);
      if (v === undefined || v === null) return want === null && (op === "=" || op === "==");
      return cmp ? typeof v === "number" && cmp(v) : same(v);
    });
  }
  return (r) => tests.every((t) => t(r));
}
function rowText(r) {  // what free-text search looks in (kept per row object: a changed row is a new object)
  let text = T.texts.get(r);
  if (text === undefined) {
    text = [r.number, r.state, fmt(r.value), ...Object.entries(r.values || {}).map(([k, v]) => `${k}=${fmt(v)}`),
      ...Object.entries(r.config).map(([k, v]) => `${k}=${fmt(v)}`), r.error, r.note, r.ended, r.device]
      .filter((x) => x !== null && x !== undefined).join(" ").toLowerCase();
    T.texts.set(r, text);
  }
  return text;
}

// -- columns ------------------------------------------------------------------------------------
function tableColumns(study) {
  const dims = Object.keys(study.space), objs = objectivesOf(study).map(([k]) => k);
  const multi = objs.length > 1;
  const onDevices = [...S.rows.values()].some((r) => r.device);  // a device column when trials ran on GPUs
  const num = (v) => el("td", { class: "num", text: fmt(v) });
  return [
    { key: "number", label: "#", get: (r) => r.number, fixed: true, cell: (r) => el("td", { class: "num" },
      el("a", { href: trialHref(study.name, r.number), text: r.number }),
      T.top.has(r.number) ? el("span", { class: "top-mark", title: multi ? "on the Pareto front" : "the best trial", text: " ★" }) : null,
      r.has_note ? el("span", { class: "note-mark", title: "has a note (on its page)", text: " ✎" }) : null) },
    { key: "state", label: "state", get: (r) => r.state, cell: (r) => el("td", { class: "state state-" + r.state,
      text: r.state + (r.stop_requested && r.state === "RUNNING" ? " (stopping)" : "") }) },
    { key: "value", label: "value", get: (r) => r.value,
      csv: multi ? objs.map((k) => [k, (r) => (r.values || {})[k]]) : [["value", (r) => r.value]],
      cell: (r) => el("td", { class: "num" + (r.feasible === false ? " infeasible" : ""), title: r.feasible === false ? "infeasible: misses a constraint" : "",
        text: Object.keys(r.values || {}).length > 1 ? Object.entries(r.values).map(([k, v]) => `${k}=${fmt(v)}`).join(", ") : fmt(r.value) }) },
    { key: "duration", label: "duration", get: (r) => r.duration, cell: (r) => el("td", { class: "num", text: secs(r.duration) }) },
    ...(onDevices ? [{ key: "device", label: "device", get: (r) => r.device, cell: (r) => el("td", { class: "device", text: r.device || "" }) }] : []),
    { key: "n_reports", label: "reports", get: (r) => r.n_reports,
      cell: (r) => el("td", { class: "num", text: r.n_reports ? `${r.n_reports} (last ${fmt(r.last_report[1])})` : "" }) },
    ...dims.map((d) => ({ key: "config." + d, label: d, get: (r) => r.config[d], cell: (r) => num(r.config[d]) })),
    { key: "ended", label: "why ended", get: (r) => r.ended || r.error || r.note,
      cell: (r) => el("td", { class: r.state === "PAUSED" && r.note ? "note muted" : r.state === "FAILED" || r.state === "STALE" ? "err" : "ended muted",
        title: r.error || r.ended || r.note || "", text: r.ended || r.error || r.note || "" }) },
  ];
}
function loadHidden(name) {
  try { T.hidden = new Set(JSON.parse(localStorage.getItem(COLUMNS_KEY + name) || "[]")); } catch (e) { T.hidden = new Set(); }
}
function saveHidden(name) { localStorage.setItem(COLUMNS_KEY + name, JSON.stringify([...T.hidden])); }

// -- the controls, built once per study (polls must not wipe what a person types) --------------------
function tableControls(study) {
  const redraw = () => { T.page = 0; drawTable(S.study); };
  const input = (id, attrs) => el("input", Object.assign({ id, autocomplete: "off", oninput: redraw }, attrs));
  const pick = el("details", { id: "columns-pick", class: "columns" }, el("summary", { text: "columns" }),
    tableColumns(study).filter((c) => !c.fixed).map((c) => el("label", {}, el("input", { type: "checkbox", "data-col": c.key,
      checked: !T.hidden.has(c.key), onchange: (ev) => {
        if (ev.target.checked) T.hidden.delete(c.key); else T.hidden.add(c.key);
        saveHidden(study.name); drawTable(S.study);
      } }), " " + c.label)));
  return el("div", { class: "table-controls" },
    el("select", { id: "filter-state", onchange: redraw, "aria-label": "state" }, el("option", { value: "", text: "any state" }),
      STATES.map((s) => el("option", { value: s, text: s.toLowerCase() }))),
    el("label", {}, "value ", input("filter-min", { size: 7, placeholder: "from" }), " – ", input("filter-max", { size: 7, placeholder: "to" })),
    input("filter-expr", { size: 28, placeholder: "lr < 1e-3, opt = adam", "aria-label": "filter", title: "NAME OP VALUE, joined by , or and" }),
    input("filter-text", { type: "search", size: 16, placeholder: "search rows", "aria-label": "search" }),
    pick, el("button", { id: "export-csv", type: "button", text: "export CSV", title: "the rows that pass the filters, in this order",
      onclick: () => exportCsv(S.study) }));
}

// The rows that pass every filter (a bad filter expression is left out and named in #filter-error).
function visibleRows(study, cols) {
  const value = (id) => document.getElementById(id)?.value.trim() || "";
  const state = value("filter-state"), text = value("filter-text").toLowerCase(), expr = value("filter-expr");
  const range = ["filter-min", "filter-max"].map((id) => (value(id) === "" ? null : Number(value(id))));
  let test = null; T.filterError = "";
  try { test = expr ? parseFilter(expr, study) : null; } catch (err) { T.filterError = err.message; }
  if (range.some((v) => v !== null && !Number.isFinite(v))) { T.filterError = "the value range takes numbers (e.g. 0.1 – 0.5)"; range.fill(null); }
  const [lo, hi] = range;
  const rows = [...S.rows.values()].filter((r) => (!state || r.state === state)
    && (lo === null || (r.value !== null && r.value >= lo)) && (hi === null || (r.value !== null && r.value <= hi))
    && (!test || test(r)) && (!text || rowText(r).includes(text)));
  const col = cols.find((c) => c.key === S.sort.key) || cols[0];
  return rows.sort((a, b) => {
    const va = col.get(a), vb = col.get(b);
    if (va === vb) return a.number - b.number;
    if (va === null || va === undefined) return 1;
    if (vb === null || vb === undefined) return -1;
    return (va < vb ? -1 : 1) * S.sort.dir;
  });
}

function drawTable(study) {
  const box = section("trials", () => el("div", {}));
  if (T.study !== study.name || !document.getElementById("trials-table")) {
    T.study = study.name; T.page = 0; loadHidden(study.name);
    box.replaceChildren(el("h3", { id: "trials-title" }), tableControls(study), el("p", { id: "filter-error", class: "error" }),
      el("div", { class: "table-wrap" }, el("table", { id: "trials-table" })), el("div", { id: "pager", class: "pager" }));
  }
  const all = tableColumns(study), cols = all.filter((c) => c.fixed || !T.hidden.has(c.key));
  const rows = visibleRows(study, all);
  T.visible = rows; T.cols = cols;
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  T.page = Math.min(T.page, pages - 1);
  const first = T.page * PAGE_ROWS, page = rows.slice(first, first + PAGE_ROWS);
  const head = el("tr", {}, cols.map((c) => el("th", {
    class: "sortable" + (c.key === S.sort.key ? " sorted" : ""), "data-key": c.key,
    text: c.label + (c.key === S.sort.key ? (S.sort.dir > 0 ? " ▲" : " ▼") : ""),
    onclick: () => { S.sort = { key: c.key, dir: c.key === S.sort.key ? -S.sort.dir : 1 }; drawTable(study); },
  })), el("th", { text: "" }));
  const body = page.map((r) => el("tr", { class: "link" + (T.top.has(r.number) ? " top" : ""), "data-number": r.number, "data-state": r.state,
    onclick: () => { location.hash = trialHref(study.name, r.number); } },
    cols.map((c) => c.cell(r)),
    el("td", {}, r.state === "RUNNING" && !r.stop_requested ? stopButton(study.name, r.number) : null)));
  document.getElementById("trials-table").replaceChildren(el("thead", {}, head), el("tbody", {}, body));
  const total = S.rows.size;
  document.getElementById("trials-title").textContent = "Trials " + (rows.length === total ? `(${total})` : `(${rows.length} of ${total} pass the filters)`);
  document.getElementById("filter-error").textContent = T.filterError;
  const move = (to) => () => { T.page = to; drawTable(S.study); };
  fill(document.getElementById("pager"), rows.length > PAGE_ROWS ? [
    el("button", { id: "page-prev", type: "button", text: "‹ previous", disabled: T.page === 0, onclick: move(T.page - 1) }),
    el("span", { id: "page-info", class: "muted", text: ` rows ${first + 1}–${first + page.length} of ${rows.length} ` }),
    el("button", { id: "page-next", type: "button", text: "next ›", disabled: T.page >= pages - 1, onclick: move(T.page + 1) })] : []);
}

// -- CSV of the visible rows: every row that passes the filters, in the table's order, the columns shown
function csvCell(v) {
  if (v === null || v === undefined) return "";
  const text = typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
function exportCsv(study) {
  const cols = T.cols.flatMap((c) => c.csv || [[c.key === "number" ? "number" : c.label, c.get]]);
  const lines = [cols.map(([h]) => csvCell(h)).join(","), ...T.visible.map((r) => cols.map(([, get]) => csvCell(get(r))).join(","))];
  const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: `${study.name}-trials.csv` });
  document.body.append(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
