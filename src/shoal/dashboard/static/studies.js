// shoal dashboard: the study list (route #/). Paged, filtered and sorted by the server; a poll asks only
// for the lines of the page that changed. Checkboxes pick 2 to 5 studies for the compare page.
"use strict";

const LIST_LIMIT = 50;
const LIST = { q: "", sort: "activity", order: "", offset: 0, rev: -1, epoch: null, key: "", rows: new Map(), drawn: "" };
const PICKED = new Set();  // names picked for comparison (kept while the tab is open)
const PICK_MIN = 2, PICK_MAX = 5;

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

async function fetchStudies(since) {
  const params = new URLSearchParams({ q: LIST.q, sort: LIST.sort, order: LIST.order, offset: LIST.offset,
    limit: LIST_LIMIT, since, epoch: LIST.epoch || "" });
  const page = await api("/api/studies?" + params);
  if (page.epoch !== LIST.epoch) LIST.rows = new Map();
  LIST.epoch = page.epoch;
  for (const s of page.studies) LIST.rows.set(s.name, s);
  return page;
}

async function drawStudies() {
  const key = JSON.stringify([LIST.q, LIST.sort, LIST.order, LIST.offset]);
  if (key !== LIST.key) { LIST.key = key; LIST.rev = -1; }
  let page = await fetchStudies(LIST.rev);
  if (page.names.some((n) => !LIST.rows.has(n))) page = await fetchStudies(-1);  // a line new to this page
  LIST.rev = page.rev; LIST.shownOrder = page.order;
  if (LIST.offset > 0 && LIST.offset >= page.matched) {  // the filter left fewer pages: go to the last
    LIST.offset = Math.max(0, Math.floor((page.matched - 1) / LIST_LIMIT) * LIST_LIMIT);
    return drawStudies();
  }
  const box = section("studies", () => el("div", {}, el("h2", { text: "Studies" }), listControls(),
    el("div", { id: "compare-bar", class: "row" }), el("div", { id: "study-table" }), el("div", { id: "pager", class: "row" })));
  drawCompareBar();
  const drawn = JSON.stringify([page.names, page.rev, page.matched, [...PICKED]]);
  if (drawn === LIST.drawn && box.querySelector("table")) return;
  LIST.drawn = drawn;
  drawList(page);
}

function listControls() {
  let wait = null;
  const search = el("input", { id: "study-search", type: "search", placeholder: "filter by name", value: LIST.q,
    oninput: (ev) => {
      clearTimeout(wait);
      wait = setTimeout(() => { LIST.q = ev.target.value; LIST.offset = 0; clearTimeout(S.timer); tick(); }, 250);
    } });
  return el("div", { class: "row list-controls" }, search);
}

function sortBy(sort) {
  LIST.order = sort === LIST.sort ? (LIST.shownOrder === "asc" ? "desc" : "asc") : "";  // "": the sort's default
  LIST.sort = sort; LIST.offset = 0;
  clearTimeout(S.timer); tick();
}

function drawList(page) {
  const head = [["", null], ["study", "name"], ["direction", null], ["trials", "trials"], ["running", null], ["queued", null],
    ["complete", null], ["failed", null], ["pruned", null], ["best", null], ["last activity", "activity"], ["sampler", null], ["scheduler", null]];
  const arrow = page.order === "asc" ? " ▲" : " ▼";
  const th = head.map(([label, sort]) => sort
    ? el("th", { class: "sortable" + (sort === page.sort ? " sorted" : ""), "data-sort": sort, text: label + (sort === page.sort ? arrow : ""), onclick: () => sortBy(sort) })
    : el("th", { text: label }));
  const rows = page.names.map((name) => {
    const s = LIST.rows.get(name), c = s.counts;
    const pick = el("input", { type: "checkbox", class: "pick", "data-pick": name, checked: PICKED.has(name), title: "pick to compare",
      onchange: (ev) => { if (ev.target.checked) PICKED.add(name); else PICKED.delete(name); drawCompareBar(); } });
    return el("tr", { class: "link", "data-study": name, onclick: () => { location.hash = studyHref(name); } },
      el("td", { onclick: (ev) => ev.stopPropagation() }, pick),
      el("td", {}, el("a", { href: studyHref(name), text: name }), s.paused ? el("span", { class: "badge paused", text: "paused" }) : null),
      el("td", { text: s.direction }), el("td", { class: "num", text: s.n_trials }),
      el("td", { class: "num state-RUNNING", text: c.RUNNING || 0 }), el("td", { class: "num state-QUEUED", text: c.QUEUED || 0 }),
      el("td", { class: "num state-COMPLETE", text: c.COMPLETE || 0 }),
      el("td", { class: "num state-FAILED", text: (c.FAILED || 0) + (c.STALE || 0) }), el("td", { class: "num", text: c.PRUNED || 0 }),
      el("td", { class: "num", text: fmt(s.best_value) }), el("td", { class: "muted", title: s.last_activity, text: ago(s.last_activity) }),
      el("td", { class: "muted", text: s.sampler }), el("td", { class: "muted", text: s.scheduler || "none" }));
  });
  const table = document.getElementById("study-table");
  if (!page.total) fill(table, el("p", { class: "muted", text: "No studies in this storage yet: run one and it appears here." }));
  else if (!page.matched) fill(table, el("p", { class: "muted", id: "no-match", text: `No study name contains “${LIST.q}”.` }));
  else fill(table, el("div", { class: "table-wrap" }, el("table", { id: "studies-table" }, el("thead", {}, el("tr", {}, th)), el("tbody", {}, rows))));
  const last = Math.min(page.offset + page.names.length, page.matched);
  const shown = page.matched ? `${page.offset + 1}–${last} of ${page.matched}` : "0";
  const move = (to) => { LIST.offset = to; clearTimeout(S.timer); tick(); };
  fill(document.getElementById("pager"),
    el("span", { id: "page-info", class: "muted", text: `studies ${shown}` + (page.matched !== page.total ? ` (matching; ${page.total} in all)` : "") }),
    el("button", { id: "page-prev", text: "← previous", disabled: page.offset === 0, onclick: () => move(Math.max(0, page.offset - LIST_LIMIT)) }),
    el("button", { id: "page-next", text: "next →", disabled: last >= page.matched, onclick: () => move(page.offset + LIST_LIMIT) }));
}

function drawCompareBar() {
  const bar = document.getElementById("compare-bar");
  if (!bar) return;
  const names = [...PICKED], n = names.length, ok = n >= PICK_MIN && n <= PICK_MAX;
  const hint = n < PICK_MIN ? `pick ${PICK_MIN} to ${PICK_MAX} studies of one space to compare them`
    : n > PICK_MAX ? `at most ${PICK_MAX} studies: unpick ${n - PICK_MAX}` : `picked: ${names.join(", ")}`;
  fill(bar,
    el("button", { id: "compare-button", class: ok ? "primary" : "", disabled: !ok, text: `compare${n ? " (" + n + ")" : ""}`,
      onclick: () => { location.hash = compareHref(names); } }),
    el("span", { id: "compare-hint", class: n > PICK_MAX ? "error" : "muted", text: hint }),
    n ? el("button", { id: "compare-clear", text: "clear", onclick: () => { PICKED.clear(); LIST.drawn = ""; clearTimeout(S.timer); tick(); } }) : null);
}

function compareHref(names) { return "#/compare/" + names.map(enc).join(","); }
