// shoal dashboard: a person's Markdown notes on a study and on a trial (shown rendered, edited with
// the token), and deleting a study. Loaded before app.js, whose helpers (el, api, post, enc, S, tick,
// section) these functions call at run time.
//
// Markdown is rendered safely: the text is HTML-escaped first, then a small subset (headings, lists,
// code, emphasis, links to http(s), mailto and relative addresses) becomes tags; nothing the note
// says can become a script, an event handler or a javascript: link.
"use strict";

const N = { studyFor: null, studyText: null, trialKey: null };

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
function safeHref(url) {  // an escaped URL: kept only for http(s), mailto, an anchor or a path
  return /^(https?:\/\/|mailto:|#|\/(?!\/)|\.\.?\/)/i.test(url) ? url : null;
}
function inlineMd(text) {  // on escaped text
  return text
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (all, label, url) => {
      const href = safeHref(url);
      return href === null ? all : `<a href="${href}" rel="noopener noreferrer" target="_blank">${label}</a>`;
    });
}
// Markdown -> HTML string, every piece of the text escaped first.
function renderMarkdown(text) {
  const out = [];
  let list = null, para = [], code = null;
  const flush = () => {
    if (para.length) { out.push(`<p>${inlineMd(para.join(" "))}</p>`); para = []; }
    if (list) { out.push(`<ul>${list.map((i) => `<li>${inlineMd(i)}</li>`).join("")}</ul>`); list = null; }
  };
  for (const raw of escapeHtml(text).split(/\r?\n/)) {
    if (code !== null) {
      if (/^```/.test(raw)) { out.push(`<pre><code>${code.join("\n")}</code></pre>`); code = null; } else code.push(raw);
      continue;
    }
    let m;
    if (/^```/.test(raw)) { flush(); code = []; }
    else if ((m = /^(#{1,4})\s+(.*)$/.exec(raw))) { flush(); out.push(`<h${m[1].length + 2}>${inlineMd(m[2])}</h${m[1].length + 2}>`); }
    else if ((m = /^\s*[-*]\s+(.*)$/.exec(raw))) { if (para.length) flush(); (list = list || []).push(m[1]); }
    else if (!raw.trim()) flush();
    else { if (list) flush(); para.push(raw.trim()); }
  }
  if (code !== null) out.push(`<pre><code>${code.join("\n")}</code></pre>`);
  flush();
  return out.join("");
}

// A note panel: the rendered note and an edit button; editing shows a textarea and save/cancel.
// `save(text)` stores it; then the editor closes and `after()` redraws.
function notePanel(id, title, text, save, after) {
  const view = el("div", { id: id + "-view", class: "markdown" });
  view.innerHTML = text ? renderMarkdown(text) : "";
  if (!text) view.append(el("p", { class: "muted", text: "No note yet." }));
  const message = el("span", { id: id + "-message" });
  const area = el("textarea", { id: id + "-text", rows: 6, placeholder: "Markdown: # heading, - list, **bold**, `code`, [link](https://...)" });
  const editor = el("div", { class: "note-editor", hidden: true }, area, el("div", { class: "actions" },
    el("button", { id: id + "-save", class: "primary", type: "button", text: "Save", onclick: async () => {
      try { await save(area.value); editor.hidden = true; view.hidden = false; after(); }
      catch (err) { message.className = "error"; message.textContent = err.message; }
    } }),
    el("button", { type: "button", text: "Cancel", onclick: () => { editor.hidden = true; view.hidden = false; } }), message));
  const edit = el("button", { id: id + "-edit", type: "button", text: text ? "Edit note" : "Add a note", onclick: () => {
    area.value = text || ""; editor.hidden = false; view.hidden = true; area.focus();
  } });
  return el("div", { class: "panel note-panel" }, el("div", { class: "chart-head" }, el("h3", { text: title }), edit), view, editor);
}
function editing(box) { return box.querySelector(".note-editor:not([hidden])") !== null; }

// The study page's note: read once per visit and after a save (the page does not poll it).
async function drawStudyNote(study) {
  const box = section("study-note", () => el("div", {}));
  if (N.studyFor === study.name && box.childElementCount) return;
  N.studyFor = study.name;
  const { note } = await api(`/api/studies/${enc(study.name)}/note`);
  if (editing(box)) return;
  box.replaceChildren(notePanel("study-note", "Note", note,
    (text) => post(`/api/studies/${enc(study.name)}/note`, { text }),
    () => { N.studyFor = null; box.replaceChildren(); drawStudyNote(study).catch(() => {}); }));
}

// The trial page's note: redrawn when its text changes, never while a person edits it.
function drawTrialNote(name, t) {
  const box = section("trial-note-panel", () => el("div", {}));
  const key = JSON.stringify([name, t.number, t.user_note]);
  if (N.trialKey === key || editing(box)) return;
  N.trialKey = key;
  box.replaceChildren(notePanel("trial-user-note", "Note", t.user_note,
    (text) => post(`/api/studies/${enc(name)}/trials/${t.number}/note`, { text }),
    () => { N.trialKey = null; clearTimeout(S.timer); tick(); }));
}

// Delete the study: the person types its name to confirm; then the page goes back to the study list.
function deleteButton(study) {
  return el("button", { id: "delete-button", class: "danger", type: "button", text: "Delete study", onclick: async () => {
    const typed = window.prompt(`Delete study "${study.name}" and all its ${study.n_trials} trials for good? Type its name to confirm:`);
    if (typed === null) return;
    try {
      await post(`/api/studies/${enc(study.name)}/delete`, { confirm: typed });
      location.hash = "#/";
    } catch (err) { setMessage("study-message", err.message, true); }
  } });
}
