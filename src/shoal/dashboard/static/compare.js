// shoal dashboard: the compare page (route #/compare/A,B,...; each name URL-encoded). 2 to 5 studies of
// one space side by side: each one's best trial, best-so-far curves, importance and EDF overlaid.
// Polled every 5 s with the key of what is drawn: the server answers "unchanged" until a study gains trials.
"use strict";

const COMPARE_MS = 5000;
const CMP = { names: null, key: null, at: 0 };

function parseCompare(raw) {  // "a,b%2Cc" -> ["a", "b,c"]: split on the commas, then decode each name
  return raw.split(",").filter(Boolean).map(decodeURIComponent);
}

async function drawCompare(names) {
  const fresh = !document.getElementById("compare");  // just navigated here: draw it all again
  if (fresh || JSON.stringify(names) !== JSON.stringify(CMP.names)) { CMP.names = names; CMP.key = null; CMP.at = 0; }
  if (Date.now() - CMP.at < COMPARE_MS) return;
  CMP.at = Date.now();
  const box = section("compare", () => el("div", {}));
  let res;
  try {
    res = await api("/api/compare/" + names.map(enc).join("/") + (CMP.key ? "?since=" + enc(CMP.key) : ""));
  } catch (err) {
    if (!err.status || err.status >= 500) throw err;
    CMP.key = null;
    fill(box, el("h2", { text: "Compare studies" }), el("p", { id: "compare-error", class: "error", text: err.message }),
      el("p", {}, el("a", { href: "#/", text: "← pick other studies" })));
    return;
  }
  if (res.unchanged) return;
  CMP.key = res.key;
  drawComparison(box, res);
}

function drawComparison(box, res) {
  const links = res.studies.flatMap((s, i) => [i ? ", " : "", el("a", { href: studyHref(s.name), text: s.name })]);
  const cell = (s, f) => el("td", { class: "num" }, f(s));
  const rows = [
    ["best value", (s) => el("strong", { text: s.best ? fmt(s.best.value) : "none yet" })],
    ["best trial", (s) => s.best ? el("a", { href: trialHref(s.name, s.best.number), "data-best": s.name, text: "trial " + s.best.number }) : ""],
    ["trials (complete)", (s) => `${s.n_trials} (${s.n_complete})`],
    ["sampler", (s) => s.sampler],
  ].map(([label, f]) => el("tr", { "data-row": label }, el("th", { text: label }), res.studies.map((s) => cell(s, f))));
  const dims = res.dimensions.map((d) => el("tr", { "data-dim": d }, el("th", { text: d }),
    res.studies.map((s) => cell(s, () => (s.best && d in s.best.config ? fmt(s.best.config[d]) : "–")))));
  const notes = res.studies.filter((s) => s.importance_note).map((s) => el("li", { text: `${s.name}: ${s.importance_note}` }));
  fill(box,
    el("h2", {}, "Compare ", ...links),
    el("p", { class: "muted", text: `${res.direction} · the best trial of each study, its configuration, and the figures below` }),
    el("div", { class: "panel" }, el("h3", { text: "Best of each study" }),
      el("div", { class: "table-wrap" }, el("table", { id: "compare-bests" },
        el("thead", {}, el("tr", {}, el("th", { text: "" }), res.studies.map((s) => el("th", { "data-study": s.name }, el("a", { href: studyHref(s.name), text: s.name }))))),
        el("tbody", {}, rows, dims)))),
    el("div", { class: "row" },
      el("div", { class: "panel" }, el("div", { id: "compare-history", class: "figure" })),
      el("div", { class: "panel" }, el("div", { id: "compare-edf", class: "figure" }))),
    el("div", { class: "panel" }, el("div", { id: "compare-importance", class: "figure" }),
      notes.length ? el("ul", { id: "importance-notes", class: "muted" }, notes) : null));
  drawCompareFigures(res.figures).catch((err) => {
    fill(document.getElementById("compare-history"), el("p", { class: "muted", text: "figures: " + err.message }));
  });
}

async function drawCompareFigures(figures) {
  const ids = { history: "compare-history", edf: "compare-edf", importance: "compare-importance" };
  if (!figures) {
    for (const id of Object.values(ids)) fill(document.getElementById(id), el("p", { class: "muted", text: "The figures need plotly: pip install 'shoal[dashboard]'" }));
    return;
  }
  if (!window.Plotly) await new Promise((ok, fail) => document.head.append(el("script", { src: "/static/plotly.min.js", onload: ok, onerror: fail })));
  for (const [key, id] of Object.entries(ids)) {
    const fig = JSON.parse(figures[key]);
    window.Plotly.react(document.getElementById(id), fig.data, fig.layout, { displaylogo: false, responsive: true });
  }
}
