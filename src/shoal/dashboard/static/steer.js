// shoal dashboard, a trial's hyperparameter schedule: the tweaks on its curve, the schedule table, and
// the two actions on it (tweak a running trial, fork one from a checkpoint). Loaded before app.js, whose
// helpers (el, fmt, short, changeText, post, api, S, tick, trialHref) these functions call.
"use strict";

// The delivered tweaks, one mark per step they took effect at: [{x, label}] for lineChart.
function tweakMarks(changes) {
  const byStep = new Map();
  for (const c of changes || []) {
    if (c.kind !== "tweak" || c.step === null) continue;
    byStep.set(c.step, (byStep.get(c.step) || []).concat(changeText(c)));
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([x, labels]) => ({ x, label: labels.join(", ") }));
}

// Every change of the trial: the step it took effect at (pending until its next report), what changed,
// who changed it, and how (a tweak while it ran, or a fork's change against its parent).
function schedulePanel(t) {
  const changes = t.changes || [];
  if (!changes.length && !t.excluded_from_models) return null;
  const live = t.state === "RUNNING" || t.state === "PAUSED";
  const rows = changes.map((c) => el("tr", { class: c.step === null ? "pending" : null, "data-name": c.name,
    "data-step": c.step === null ? "pending" : c.step },
    el("td", { class: "num", text: c.step === null ? (live ? "pending" : "never delivered") : c.step }),
    el("td", { text: changeText(c) }), el("td", { text: c.source }), el("td", { text: c.kind })));
  return el("div", { class: "panel", id: "schedule" }, el("h3", { text: "Schedule" }),
    changes.length ? el("table", { id: "schedule-table" },
      el("thead", {}, el("tr", {}, ["from step", "change", "source", "kind"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)) : null,
    t.excluded_from_models ? el("p", { id: "excluded-note", class: "muted",
      text: `Left out of samplers' models and importance: ${t.excluded_from_models}.` }) : null);
}

// An input for one dimension holding `value` (a list for a choice; text for numbers and custom values,
// the exact number so an untouched field reads back the same). `unchanged`: a choice may be left alone.
function valueInput(spec, id, value, unchanged) {
  if (spec.type === "choice") {
    const options = spec.values.map((v, i) => el("option", { value: i, text: short(v),
      selected: value !== undefined && JSON.stringify(v) === JSON.stringify(value) }));
    return el("select", { id }, unchanged ? el("option", { value: "", text: "(unchanged)", selected: true }) : null, options);
  }
  const text = value === undefined ? "" : spec.type === "custom" ? JSON.stringify(value) : String(value);
  return el("input", { id, type: "text", inputmode: "decimal", value: text,
    placeholder: unchanged ? "unchanged" : rangeHint(spec) });
}

// What a field holds, typed by its dimension (numbers as numbers); undefined when left empty.
function fieldValue(spec, input) {
  if (spec.type === "choice") return input.value === "" ? undefined : spec.values[+input.value];
  const text = input.value.trim();
  if (text === "") return undefined;
  if (spec.type === "custom") { try { return JSON.parse(text); } catch (e) { return text; } }
  const num = Number(text);
  return Number.isFinite(num) ? num : text;  // text: the server says why it is not a legal value
}

function showMsg(node, msg, name) {
  if (!msg) return;
  node.className = msg.bad ? "error" : "ok";
  node.replaceChildren(msg.text, msg.number === undefined ? "" : el("a", { id: "fork-link", href: trialHref(name, msg.number), text: `trial ${msg.number}` }));
}

// The tweak and fork forms: rebuilt when the trial's values change, never while a person is typing.
async function drawTrialActions(name, t) {
  const live = t.state === "RUNNING" || t.state === "PAUSED";
  const steps = t.checkpoint_steps || [];
  if (!live && !steps.length) { document.getElementById("trial-actions")?.remove(); return; }
  if (S.spaceFor !== name) { S.space = (await api("/api/studies/" + enc(name))).space; S.spaceFor = name; }
  const box = section("trial-actions", () => el("div", { class: "row" }));
  const key = JSON.stringify([t.number, live, t.current_config, t.pending_changes, steps]);
  if (S.actionsKey === key || box.contains(document.activeElement) || box.querySelector("form[data-dirty]")) return;
  S.actionsKey = key;
  fill(box, live ? tweakForm(name, t) : null, steps.length ? forkForm(name, t, steps) : null);
}

function actionForm(id, fields, button, message, send) {
  const form = el("form", { class: "enqueue", id, autocomplete: "off" });
  for (const f of fields) {
    form.append(el("label", { for: f.input.id, text: f.dim }), f.input);
    if (f.hint) form.append(el("span", { class: "hint muted", text: f.hint }));
  }
  form.append(el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: id.replace("-form", "-button"), text: button }), message));
  form.addEventListener("input", () => { form.dataset.dirty = "1"; });
  form.addEventListener("submit", async (ev) => { ev.preventDefault(); await send(form); clearTimeout(S.timer); tick(); });
  return form;
}

function tweakForm(name, t) {
  const pending = t.pending_changes || {};
  const fields = Object.entries(S.space).filter(([dim, spec]) => dim in t.current_config && spec.type !== "fixed")
    .map(([dim, spec]) => ({ dim, spec, now: t.current_config[dim], input: valueInput(spec, "tweak-" + dim, t.current_config[dim]),
      hint: [rangeHint(spec), dim in pending ? `pending: ${short(pending[dim])}` : ""].filter(Boolean).join("; ") }));
  const message = el("span", { id: "tweak-message" });
  showMsg(message, S.msg.tweak, name);
  const form = actionForm("tweak-form", fields, "Tweak", message, async (form) => {
    const changes = {};
    for (const f of fields) {
      const v = fieldValue(f.spec, f.input);
      if (v !== undefined && JSON.stringify(v) !== JSON.stringify(f.now)) changes[f.dim] = v;
    }
    if (!Object.keys(changes).length) { S.msg.tweak = { text: "nothing changed: edit a value first", bad: true }; }
    else {
      try {
        const answer = await post(`/api/studies/${enc(name)}/trials/${t.number}/tweak`, { changes });
        S.msg.tweak = { text: answer.changes.length ? `sent ${answer.changes.map(changeText).join(", ")}: in force from its next report` : "nothing changed", bad: false };
        delete form.dataset.dirty;
        document.activeElement?.blur();
      } catch (err) { S.msg.tweak = { text: err.message, bad: true }; }
    }
    showMsg(message, S.msg.tweak, name);
  });
  return el("div", { class: "panel", id: "tweak" }, el("h3", { text: "Tweak while it runs" }),
    el("p", { class: "muted", text: "Its next report (or should_stop) delivers the change: trial.config holds it from then on." }), form);
}

function forkForm(name, t, steps) {
  const step = el("select", { id: "fork-step" }, steps.map((s, i) => el("option", { value: s, text: s, selected: i === steps.length - 1 })));
  const dims = Object.entries(S.space).filter(([, spec]) => spec.type !== "fixed")
    .map(([dim, spec]) => ({ dim, spec, input: valueInput(spec, "fork-" + dim, undefined, true), hint: rangeHint(spec) }));
  const fields = [{ dim: "from step", input: step, hint: "a checkpoint it saved; the fork trains from the next step" }, ...dims];
  const message = el("span", { id: "fork-message" });
  showMsg(message, S.msg.fork, name);
  const form = actionForm("fork-form", fields, "Fork", message, async (form) => {
    const changes = {};
    for (const f of dims) { const v = fieldValue(f.spec, f.input); if (v !== undefined) changes[f.dim] = v; }
    try {
      const { trial } = await post(`/api/studies/${enc(name)}/trials/${t.number}/fork`, { step: +step.value, changes });
      S.msg.fork = { text: "forked as ", number: trial.number, bad: false };
      delete form.dataset.dirty;
      document.activeElement?.blur();
    } catch (err) { S.msg.fork = { text: err.message, bad: true }; }
    showMsg(message, S.msg.fork, name);
  });
  return el("div", { class: "panel", id: "fork" }, el("h3", { text: "Fork from a checkpoint" }),
    el("p", { class: "muted", text: "A new queued trial that starts from this checkpoint with the values given (empty: unchanged); the next free slot runs it." }), form);
}
