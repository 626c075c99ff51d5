// The controller: owns the state object, talks to the API and the layout worker, draws the
// circuit and tells the views what happened over the event bus. Views plug in with
// controller.use(mount): mount(ctx) gets the context below and subscribes to events.
//
// Events (bus.on(name, fn)):
//   "doc"     {doc, sched, rebuilt, programChanged, timings}  a document is on screen
//   "pos"     {pos, animate, from}                            the animation position changed
//   "select"  {id}                                            the selected node changed
//   "present" {on}                                            presenter mode toggled
//   "unit"    {unit}                                          playback unit changed (gate/statement)
//   "preset"  {preset}                                        a worked example was loaded
//   "error"   {error}                                         the program has an error
//   "stop"    {}                                              stop anything running (new structure)
//   "lang"    {lang}                                          UI language changed
//   "quiz"    {quiz}                                          the quiz's mode, revealed set or answers changed
//   "lesson"  {lesson}                                        a lesson was opened, closed or moved to a step
import { api, ApiError, decodeNumbers, evaluateReconciled } from "./api.js";
import * as busy from "./busy.js";
import { adjointGroupsOf, callGroupsOf, displayGraph, findByKey, groupsOf, isCallKey, nodeKey, resolveFolds, subexpressionGroup } from "./groups.js";
import { structureKey, structureOf, unpackLayout } from "./layout.js";
import { hiddenOf, lessonQuizOf, limitOf, maskDoc, normalizeQuiz, questionsOf, syncRun } from "./quiz.js";
import { buildSchedule } from "./schedule.js";
import {
  bus, DEFAULT_PROGRAM, DEFAULT_VALUES, decodeTree, fromHash, holdHash, snapshot, state, writeHashNow, writeHashSoon,
} from "./state.js";
import { applyStrings, loadStrings, t } from "./strings.js";
import { isSummary } from "./tensor.js";
import { createCircuitView } from "./view-circuit.js";
import { createEditor } from "./view-editor.js";
import { renderInspector } from "./view-inspector.js";
import { createInputsView } from "./view-inputs.js";

const $ = (id) => document.getElementById(id);

// Graphviz where it is fast (measured: docs/page.md); the near-linear layout beyond, and as the
// fallback when Graphviz runs past its deadline.
export const DOT_MAX_NODES = 600;
export const DOT_MAX_EDGES = 1400;
const DOT_DEADLINE_MS = 4000;

export function layoutEngineFor(structure) {
  return structure.nodes.length <= DOT_MAX_NODES && structure.edges.length <= DOT_MAX_EDGES ? "dot" : "fast";
}

export function createController() {
  const memory = { ...DEFAULT_VALUES }; // every value set for this program, so a re-added input gets it back
  let circuit, editor, inputsView;
  let firstRender = true;
  let userMoved = false; // the user zoomed or panned since the last fit
  const ctx = { state, bus, t, api, busy, $ };
  const applyHooks = []; // views that apply their own shareable keys: ctx.onApply(async (partial) => ...)

  // ---- layout worker ---------------------------------------------------------------------------
  const layoutCache = new Map();
  const pending = new Map(); // key -> {waiters, timer}
  let worker = null;

  function startWorker(fastOnly = false) {
    worker = new Worker(`/static/js/layout-worker.js${fastOnly ? "?fast" : ""}`, { type: "module" });
    worker.onmessage = (ev) => {
      const { key, packed, error, ms, engine } = ev.data;
      const p = pending.get(key);
      if (!p) return;
      pending.delete(key);
      clearTimeout(p.timer);
      const layout = packed ? unpackLayout(packed, p.structure) : null;
      if (layout) {
        layoutCache.set(key, layout);
        if (layoutCache.size > 40) layoutCache.delete(layoutCache.keys().next().value);
      }
      for (const w of p.waiters) (layout ? w.resolve({ layout, ms, engine }) : w.reject(new Error(error)));
    };
    worker.onerror = (ev) => {
      for (const p of pending.values()) for (const w of p.waiters) w.reject(new Error(ev.message || "layout worker failed"));
      pending.clear();
    };
  }

  function layoutFor(key, structure) {
    if (layoutCache.has(key)) return Promise.resolve({ layout: layoutCache.get(key), ms: 0, cached: true });
    const engine = layoutEngineFor(structure);
    const promise = new Promise((resolve, reject) => {
      if (pending.has(key)) {
        pending.get(key).waiters.push({ resolve, reject });
        return;
      }
      const entry = { waiters: [{ resolve, reject }], timer: null, structure };
      pending.set(key, entry);
      worker.postMessage({ key, structure, engine });
      if (engine === "dot") {
        // Graphviz cannot be interrupted: past the deadline, drop the worker and use the fast layout.
        entry.timer = setTimeout(() => {
          const waiting = [...pending.entries()];
          worker.terminate();
          pending.clear();
          startWorker(true);
          for (const [k, e] of waiting) {
            pending.set(k, { waiters: e.waiters, timer: null, structure: e.structure });
            worker.postMessage({ key: k, structure: e.structure, engine: "fast" });
          }
        }, DOT_DEADLINE_MS);
      }
    });
    return busy.track(promise, "layout");
  }

  // ---- evaluation ------------------------------------------------------------------------------
  let evalSeq = 0;
  let evalAbort = null;
  const evalLater = busy.debouncer("evaluate-debounce");

  function scheduleEvaluate(delay = 250, opts = {}) {
    evalLater.run(() => evaluateNow(opts), delay);
  }

  async function evaluateNow({ fit = false, pos = null } = {}) {
    evalLater.cancel();
    const seq = ++evalSeq;
    if (evalAbort) evalAbort.abort();
    evalAbort = new AbortController();
    const program = state.program;
    const end = busy.begin("evaluate");
    const t0 = performance.now();
    try {
      const { doc, values } = await evaluateReconciled(program, state.values,
        { bases: state.bases, memory, numericCheck: state.numericCheck, signal: evalAbort.signal });
      if (seq !== evalSeq) return;
      doc.program = program; // sweeps and optimizer runs use the program that made the document
      // keep the values the API took; the program's default at the time a value was set is its base
      const keep = {}, bases = {};
      for (const inp of doc.inputs) {
        if (!(inp.name in values)) continue;
        keep[inp.name] = values[inp.name];
        bases[inp.name] = state.bases[inp.name] !== undefined ? state.bases[inp.name] : inp.default ?? null;
      }
      state.values = keep;
      state.bases = bases;
      Object.assign(memory, keep);
      state.error = null;
      editor.showError(null);
      const evalMs = performance.now() - t0;
      const timings = await showDocument(doc, { fit, pos, seq });
      if (timings) ctx.lastTimings = { ...timings, evalMs };
    } catch (err) {
      if (err.name === "AbortError" || seq !== evalSeq) return;
      showError(err);
    } finally {
      end();
    }
  }

  function showError(err) {
    let e;
    if (err instanceof ApiError && err.first) {
      const d = err.first;
      const c = d.ctx || {};
      e = { type: d.type, msg: d.msg, line: c.line, column: c.column, source_line: c.source_line, caret: c.caret, ctx: c };
    } else {
      e = { type: "error", msg: err.message || String(err) };
    }
    e.kept = !!state.doc;
    state.error = e;
    editor.showError(e);
    $("stage-status").textContent = state.doc ? t("stage.last_good") : "";
    bus.emit("error", { error: e });
    writeHashSoon();
  }

  // Draw a document: same structure -> numbers change in place; new structure -> layout + render.
  // In quiz mode the views get the document with what is not revealed yet masked (quiz.js).
  async function showDocument(fullDoc, { fit = false, pos = null, seq = null, force = false, keepView = false } = {}) {
    const tStart = performance.now();
    const { doc, sched } = quizView(fullDoc);
    const total = sched.steps.length;
    if (pos !== null) pos = Math.min(pos, state.quizLimit);
    const folds = resolveFolds(doc, state.folded, doc.program, state.opened);
    state.folded = folds.filter((g) => g.kind !== "call").map((g) => g.key);
    const display = displayGraph(doc, folds);
    const key = structureKey(doc.nodes, doc.output_id, `${display.folded.join("|")}|${state.present ? "P" : ""}`);
    const programChanged = !state.doc || state.doc.program !== doc.program;
    const timings = { nodes: doc.nodes.length, layoutMs: 0, drawMs: 0, prepMs: performance.now() - tStart };
    const selectedBefore = state.selected;
    if (!force && key === state.structureKey && state.layout) {
      state.doc = doc;
      state.schedule = sched;
      state.display = display;
      state.selected = state.selectedKey === null ? null : findByKey(doc, state.selectedKey);
      const t0 = performance.now();
      circuit.updateValues(doc, sched);
      timings.drawMs = performance.now() - t0;
    } else {
      const structure = structureOf(doc, state.ops, display, { present: state.present });
      $("stage-status").textContent = doc.nodes.length > 300 ? t("stage.laying_out", { count: doc.nodes.length }) : "";
      const t0 = performance.now();
      const { layout, engine } = await layoutFor(key, structure);
      timings.layoutMs = performance.now() - t0;
      timings.engine = engine || layout.engine;
      if (seq !== null && seq !== evalSeq) return timings;
      bus.emit("stop", {});
      state.doc = doc;
      state.schedule = sched;
      state.layout = layout;
      state.display = display;
      state.structureKey = key;
      state.selected = state.selectedKey === null ? null : findByKey(doc, state.selectedKey);
      if (state.selected === null) state.selectedKey = null;
      const t1 = performance.now();
      circuit.render({ doc, layout, sched, ops: state.ops, display, present: state.present, selected: state.selected });
      const before = keepView ? circuit.getTransform() : null;
      if (before) circuit.setTransform(before);
      else if (firstRender && state.view) {
        circuit.setTransform(state.view);
        userMoved = true; // (a link's view is the sender's choice: keep it)
      }
      else circuit.fit(!firstRender && fit !== "instant");
      firstRender = false;
      timings.drawMs = performance.now() - t1;
      if (pos === null && programChanged) state.pos = total;
      timings.rebuilt = true;
    }
    if (pos !== null) state.pos = pos;
    if (state.pos === null || state.pos > total) state.pos = total;
    state.pos = Math.min(state.pos, state.quizLimit);
    circuit.setPos(state.pos, false);
    circuit.setSelected(state.selected);
    document.body.classList.toggle("tensor-mode", doc.mode === "tensor");
    $("legend-tensor").hidden = doc.mode !== "tensor";
    $("legend-adjoint").hidden = !(doc.groups || []).some((g) => g.kind === "adjoint");
    $("stage-status").textContent = t("stage.nodes", { count: doc.nodes.length })
      + (timings.layoutMs ? t("stage.timings", { layout: Math.round(timings.layoutMs), draw: Math.round(timings.drawMs),
        engine: timings.engine === "fast" ? t("stage.engine_layered") : "Graphviz" }) : "");
    const tPanels = performance.now();
    inputsView.update(doc, { selected: state.selected, rebuild: !!timings.rebuilt });
    renderPanelInspector();
    bus.emit("doc", { doc, sched, rebuilt: !!timings.rebuilt, programChanged, timings });
    timings.panelsMs = performance.now() - tPanels;
    if (selectedBefore !== state.selected) bus.emit("select", { id: state.selected });
    writeHashSoon();
    return timings;
  }

  // Re-draw the current document with a new structure key (folding, presenter spacing).
  function redraw(opts = {}) {
    if (!state.fullDoc) return Promise.resolve();
    return busy.track(showDocument(state.fullDoc, { pos: state.pos, seq: evalSeq, force: true, fit: true, ...opts }), "redraw");
  }

  // ---- quiz mode: the one place that decides what the views may show (quiz.js) ---------------
  function quizView(fullDoc) {
    state.fullDoc = fullDoc;
    const sched = buildSchedule(fullDoc, state.ops);
    if (state.quiz.mode === "off") {
      state.questions = [];
      state.quizLimit = Infinity;
      return { doc: fullDoc, sched };
    }
    if (syncRun(state.quiz, fullDoc)) bus.emit("quiz", { quiz: state.quiz });
    const lesson = lessonQuizOf(state, fullDoc);
    state.questions = questionsOf(fullDoc, sched, state.quiz, lesson);
    state.quizLimit = limitOf(state.questions, state.quiz);
    const hidden = hiddenOf(fullDoc, sched, state.quiz, lesson, state.questions);
    if (!hidden) return { doc: fullDoc, sched };
    const doc = maskDoc(fullDoc, hidden);
    return { doc, sched: buildSchedule(doc, state.ops) };
  }

  // Show the current document again with the quiz's present mask (a reveal, a new mode, a lesson
  // step's data arriving), keeping the view and the position.
  function refresh() {
    if (!state.fullDoc) return Promise.resolve();
    return busy.track(showDocument(state.fullDoc, { pos: state.pos, seq: evalSeq }), "refresh");
  }

  function setQuiz(quiz, { emit = true } = {}) {
    state.quiz = normalizeQuiz(quiz);
    if (emit) bus.emit("quiz", { quiz: state.quiz });
    writeHashSoon();
    return refresh();
  }

  // ---- inspector and folding -----------------------------------------------------------------
  function foldInfo(id) {
    const doc = state.doc;
    if (!doc || id === null || !doc.nodes[id]) return null;
    const { groups, stmt, consumers } = groupsOf(doc);
    const head = stmt[id];
    const statement = head >= 0 ? [...groups.values()].find((g) => g.kind === "statement" && g.head === head) || null : null;
    const expression = doc.nodes[id].op !== "input" && !(statement && statement.head === id) ? subexpressionGroup(doc, id, doc.program, consumers) : null;
    const folded = state.display && state.display.groupOf.get(state.display.rep[id]) || null;
    // the innermost opened call around the node (folding it back is one click or double-click)
    const call = callGroupsOf(doc).filter((g) => state.opened.includes(g.key) && g.members.includes(id))
      .sort((a, b) => a.members.length - b.members.length)[0] || null;
    // the grad() layer the node belongs to (folding it draws the whole backward pass as one box)
    const adjoint = folded ? null : adjointGroupsOf(doc).find((g) => g.head >= id && g.members[0] <= id) || null;
    return { statement, expression, folded, call, adjoint };
  }

  function renderPanelInspector() {
    renderInspector($("inspector"), state.doc, state.schedule, state.ops, state.selected, {
      folds: foldInfo(state.selected), onFold: (key) => fold(key), onUnfold: (key) => unfold(key),
    });
  }

  // A call of a user function is folded by default: folding it removes it from state.opened,
  // unfolding adds it; statements and sub-expressions are listed in state.folded.
  function fold(key) {
    if (isCallKey(key)) {
      if (!state.opened.includes(key)) return Promise.resolve();
      state.opened = state.opened.filter((k) => k !== key);
      return redraw();
    }
    if (!key || state.folded.includes(key)) return Promise.resolve();
    state.folded = [...state.folded, key];
    return redraw();
  }
  function unfold(key) {
    if (isCallKey(key)) {
      if (state.opened.includes(key)) return Promise.resolve();
      state.opened = [...state.opened, key];
      return redraw();
    }
    if (!state.folded.includes(key)) return Promise.resolve();
    state.folded = state.folded.filter((k) => k !== key);
    return redraw();
  }
  function foldAll() {
    if (!state.doc) return Promise.resolve();
    state.folded = [...groupsOf(state.doc).groups.keys()].filter((k) => !isCallKey(k));
    state.opened = [];
    return redraw();
  }
  function unfoldAll() {
    state.folded = [];
    state.opened = state.doc ? callGroupsOf(state.doc).map((g) => g.key) : [];
    return redraw();
  }
  // double-click / +/- on a drawn node: unfold a folded box, else fold the node's statement
  function toggleFoldAt(displayId, groupKey, want = null) {
    if (groupKey && want !== "fold") return unfold(groupKey);
    if (want === "unfold") return Promise.resolve();
    const info = foldInfo(displayId);
    const g = info && (info.call || info.adjoint || info.statement || info.expression);
    return g ? fold(g.key) : Promise.resolve();
  }

  // ---- selection, position ---------------------------------------------------------------------
  function select(id) {
    state.selected = id;
    state.selectedKey = id === null || !state.doc ? null : nodeKey(state.doc, id);
    circuit.setSelected(id);
    if (state.doc) {
      inputsView.update(state.doc, { selected: id });
      renderPanelInspector();
    }
    bus.emit("select", { id });
    writeHashSoon();
  }

  function setPos(p, { animate = false, from = null } = {}) {
    if (!state.schedule) return;
    const total = state.schedule.steps.length;
    state.pos = Math.max(0, Math.min(total, p, state.quizLimit)); // quiz mode: not past an unrevealed question
    circuit.setPos(state.pos, animate, from);
    bus.emit("pos", { pos: state.pos, animate, from });
    if (!state.playing) writeHashSoon(); // (replaceState on every step of a playback costs; stop() writes it)
  }

  function setPresent(on) {
    on = !!on;
    if (state.present === on) return Promise.resolve();
    state.present = on;
    document.body.classList.toggle("present", on);
    $("btn-present").setAttribute("aria-pressed", on ? "true" : "false");
    closeOverlays();
    bus.emit("present", { on });
    writeHashSoon();
    return redraw({ fit: "instant" });
  }

  function closeOverlays() {
    document.body.classList.remove("show-left", "show-right");
  }

  // ---- programs from outside: presets, the URL, applyState ------------------------------------
  function setProgramText(text) {
    state.program = text;
    editor.setText(text);
  }

  function loadPreset(p) {
    bus.emit("stop", {});
    state.presetId = p.id;
    for (const k of Object.keys(memory)) delete memory[k];
    Object.assign(memory, p.values);
    setProgramText(p.program);
    state.values = { ...p.values };
    state.bases = {};
    state.selected = null;
    state.selectedKey = null;
    state.folded = [];
    state.opened = [];
    state.view = null;
    state.pos = null;
    $("preset-select").value = p.id;
    const notes = $("preset-notes");
    notes.hidden = false;
    const strong = document.createElement("strong");
    strong.textContent = p.title;
    const txt = document.createElement("span");
    txt.textContent = p.notes;
    notes.replaceChildren(strong, txt);
    notes.dataset.presetId = p.id;
    bus.emit("preset", { preset: p });
    return evaluateNow({ fit: true, pos: null });
  }

  function clearPreset() {
    state.presetId = null;
    $("preset-notes").hidden = true;
    $("preset-select").value = "";
  }

  // Apply a partial shareable state (the URL hash, a live room's teacher, a lesson). Returns a
  // promise that settles when the page shows it.
  async function applyState(partial) {
    if (!partial || typeof partial !== "object") return;
    const p = partial;
    const end = busy.begin("applyState");
    const releaseHash = holdHash();
    try {
      let evaluate = false, redrawNeeded = false;
      if (typeof p.program === "string" && p.program !== state.program) {
        bus.emit("stop", {});
        clearPreset();
        setProgramText(p.program);
        for (const k of Object.keys(memory)) delete memory[k];
        if (!p.values) {
          state.values = {};
          state.bases = {};
        }
        state.folded = [];
        state.opened = [];
        state.selected = null;
        state.selectedKey = null;
        state.pos = null;
        evaluate = true;
      }
      if (p.values && typeof p.values === "object") {
        state.values = decodeTree(p.values);
        state.bases = {};
        Object.assign(memory, state.values);
        evaluate = true;
      }
      if (typeof p.numericCheck === "boolean" && p.numericCheck !== state.numericCheck) {
        state.numericCheck = p.numericCheck;
        $("numeric-check").checked = p.numericCheck;
        evaluate = true;
      }
      if ("selectedKey" in p) state.selectedKey = p.selectedKey ?? null;
      if (Array.isArray(p.folded) && p.folded.join("|") !== state.folded.join("|")) {
        state.folded = [...p.folded];
        redrawNeeded = true;
      }
      if (Array.isArray(p.opened) && p.opened.join("|") !== state.opened.join("|")) {
        state.opened = [...p.opened];
        redrawNeeded = true;
      }
      let relabel = false;
      if (typeof p.lang === "string" && p.lang !== state.lang) {
        state.lang = await loadStrings(p.lang);
        $("lang").value = state.lang;
        applyStrings(document);
        relabel = true;
      }
      if (typeof p.follow === "boolean") state.follow = p.follow;
      let quizChanged = false;
      if (p.quiz && typeof p.quiz === "object") {
        // (a link's quiz=1 does not restart a run already in that mode)
        if (!(p.quiz.run == null && !(p.quiz.revealed || []).length && p.quiz.mode === state.quiz.mode)) {
          state.quiz = normalizeQuiz(p.quiz);
          quizChanged = true;
        }
      }
      if ("lesson" in p) {
        const l = p.lesson && typeof p.lesson.id === "string" ? { id: p.lesson.id, step: Math.max(0, Number(p.lesson.step) || 0) } : null;
        if (JSON.stringify(l) !== JSON.stringify(state.lesson)) {
          state.lesson = l;
          bus.emit("lesson", { lesson: l, applied: p });
          quizChanged = true;
        }
      }
      if (p.unit === "gate" || p.unit === "statement") {
        state.unit = p.unit;
        bus.emit("unit", { unit: p.unit });
      }
      if (p.view) state.view = p.view;
      for (const fn of applyHooks) await fn(p); // views' own keys (registerShared)
      if (typeof p.present === "boolean" && p.present !== state.present) {
        state.present = p.present;
        document.body.classList.toggle("present", p.present);
        $("btn-present").setAttribute("aria-pressed", p.present ? "true" : "false");
        bus.emit("present", { on: p.present });
        redrawNeeded = true;
      }
      const pos = Number.isInteger(p.pos) ? p.pos : null;
      if (evaluate || !state.doc) await evaluateNow({ fit: !p.view, pos });
      else if (redrawNeeded || relabel) await redraw({ pos: pos ?? state.pos, keepView: relabel && !redrawNeeded });
      else if (quizChanged) await showDocument(state.fullDoc, { pos: pos ?? state.pos, seq: evalSeq });
      else if (pos !== null) setPos(pos);
      if (quizChanged) bus.emit("quiz", { quiz: state.quiz });
      if ("selectedKey" in p && state.doc) {
        const id = findByKey(state.doc, state.selectedKey);
        if (id !== state.selected) select(id);
      }
      if (p.view && state.doc) {
        circuit.setTransform(p.view);
        userMoved = true;
      }
      if (relabel) {
        if (state.error) editor.showError(state.error); // (its type in the new language)
        bus.emit("lang", { lang: state.lang });
        writeHashSoon();
      }
    } finally {
      releaseHash();
      end();
    }
  }

  // ---- start -----------------------------------------------------------------------------------
  function mountCore() {
    circuit = createCircuitView($("circuit"), {
      fxNode: $("circuit-fx"), tipNode: $("tensor-tip"), canvasNode: $("circuit-canvas"), minimapNode: $("minimap"),
      busyBegin: (name) => busy.begin(name),
      onSelect: (id) => select(id),
      onFold: (displayId, groupKey, want) => toggleFoldAt(displayId, groupKey, want),
      onZoom: (tr, byUser) => {
        if (byUser) {
          userMoved = true;
          state.view = tr;
          writeHashSoon();
        }
      },
    });
    editor = createEditor({
      textarea: $("program"), gutter: $("editor-gutter"), overlay: $("editor-overlay"), errorBox: $("program-error"),
      onChange: (text) => {
        state.program = text;
        const preset = state.presets.find((q) => q.id === state.presetId);
        if (!preset || preset.program !== text) clearPreset();
        scheduleEvaluate(350);
      },
    });
    inputsView = createInputsView($("inputs"), $("result"), {
      onValue: (name, v, { live }) => {
        state.values[name] = v;
        const inp = state.doc && state.doc.inputs.find((i) => i.name === name);
        state.bases[name] = inp ? inp.default ?? null : undefined;
        memory[name] = v;
        scheduleEvaluate(live ? 40 : 200);
      },
      onSelect: (id) => select(id),
      onReset: (name) => {
        delete state.values[name];
        delete state.bases[name];
        delete memory[name];
        scheduleEvaluate(0);
      },
    });
    // The circuit's frame changes size when the quiz bar or a lesson's panel opens, grows or closes
    // (they sit under the circuit): fit again, unless the user has moved the view since the last fit
    // or the camera is following a playback.
    const rawFit = circuit.fit;
    circuit.fit = (animate) => {
      userMoved = false;
      return rawFit(animate);
    };
    const refit = busy.debouncer("refit");
    let frame = null;
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver((entries) => {
        const r = entries[entries.length - 1].contentRect;
        const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
        if (size === frame) return;
        const first = frame === null;
        frame = size;
        if (first || !state.layout || userMoved || (state.playing && state.follow)) return;
        refit.run(() => {
          if (state.layout && !userMoved && !(state.playing && state.follow)) circuit.fit(false);
        }, 60);
      }).observe($("circuit"));
    }
    Object.assign(ctx, { circuit, editor, inputsView });
    $("numeric-check").addEventListener("change", (ev) => {
      state.numericCheck = ev.target.checked;
      evaluateNow();
    });
    $("lang").addEventListener("change", () => applyState({ lang: $("lang").value }));
    $("preset-select").addEventListener("change", () => {
      const p = state.presets.find((q) => q.id === $("preset-select").value);
      if (p) loadPreset(p);
    });
    window.addEventListener("hashchange", () => {
      const h = fromHash(location.hash);
      if (h) applyState(h);
    });
    const resize = busy.debouncer("resize");
    window.addEventListener("resize", () => resize.run(() => {
      if (state.layout) circuit.fit(false);
      bus.emit("resize", {});
    }, 150));
  }

  async function start() {
    busy.start();
    const end = busy.begin("start");
    try {
      startWorker();
      const fromUrl = fromHash(location.hash);
      applyStrings(document);
      $("lang").value = state.lang;
      if (fromUrl && fromUrl.program !== undefined) {
        state.program = fromUrl.program;
        state.values = fromUrl.values;
        state.bases = {};
        Object.assign(memory, fromUrl.values);
      } else {
        state.program = DEFAULT_PROGRAM;
        state.values = { ...DEFAULT_VALUES };
      }
      if (fromUrl) {
        for (const k of ["selectedKey", "pos", "numericCheck", "view", "unit", "folded", "opened", "follow", "lesson"]) if (k in fromUrl) state[k] = fromUrl[k];
        if (fromUrl.quiz) state.quiz = normalizeQuiz(fromUrl.quiz);
        if (fromUrl.present) {
          state.present = true;
          document.body.classList.add("present");
          $("btn-present").setAttribute("aria-pressed", "true");
        }
      }
      $("numeric-check").checked = state.numericCheck;
      editor.setText(state.program);
      const [ops, presets] = await Promise.all([api.ops(), api.presets().catch(() => [])]);
      state.ops = new Map(ops.map((o) => [o.name, o]));
      state.presets = presets;
      fillPresets();
      bus.emit("ready", {});
      if (state.lesson) bus.emit("lesson", { lesson: state.lesson, applied: fromUrl || {} });
      if (state.quiz.mode !== "off") bus.emit("quiz", { quiz: state.quiz });
      if (state.present) bus.emit("present", { on: true });
      if (state.unit !== "gate") bus.emit("unit", { unit: state.unit });
      await evaluateNow({ pos: state.pos });
      document.body.dataset.ready = "true";
    } finally {
      end();
    }
  }

  function fillPresets() {
    const sel = $("preset-select");
    for (const p of state.presets) {
      const o = document.createElement("option");
      o.value = p.id;
      o.textContent = p.title;
      sel.appendChild(o);
    }
  }

  // ---- bench / test hook: show a ready-made evaluation document ---------------------------------
  async function loadDocument(rawDoc, program = "") {
    const doc = decodeNumbers(rawDoc);
    doc.program = program;
    bus.emit("stop", {});
    state.pos = null;
    state.folded = [];
    state.opened = [];
    const t0 = performance.now();
    const timings = await busy.track(showDocument(doc, { fit: "instant", force: true }), "loadDocument");
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    timings.totalMs = performance.now() - t0;
    return timings;
  }

  function currentValues(doc = state.doc) {
    const out = {};
    if (doc) for (const i of doc.inputs) if (!isSummary(i.value)) out[i.name] = i.value;
    return out;
  }

  // values from an optimizer run or a live room: set them and re-evaluate
  function setValues(values, { evaluate = true } = {}) {
    for (const [k, v] of Object.entries(values)) {
      state.values[k] = v;
      const inp = state.doc && state.doc.inputs.find((i) => i.name === k);
      state.bases[k] = inp ? inp.default ?? null : undefined;
      memory[k] = v;
    }
    return evaluate ? evaluateNow() : Promise.resolve();
  }

  Object.assign(ctx, {
    mount: mountCore, start, evaluateNow, scheduleEvaluate, select, setPos, setPresent, applyState, loadPreset, loadDocument,
    snapshot: () => snapshot(state), writeHashNow, currentValues, setValues, fold, unfold, foldAll, unfoldAll,
    closeOverlays, redraw, refresh, setQuiz, writeHashSoon,
    onApply(fn) {
      applyHooks.push(fn);
    },
    use(mount) {
      mount(ctx);
      return ctx;
    },
  });
  return ctx;
}
