// The controller: owns the state object, talks to the API and the layout worker, and tells the
// views what to draw. Views never call the API; the model (state/api/schedule) never touches
// the DOM.
import { api, ApiError, decodeNumbers, evaluateReconciled } from "./api.js";
import { bindControls } from "./controls.js";
import { exportJson, exportPng, exportSvg } from "./export.js";
import { fmt } from "./format.js";
import { structureKey, structureOf } from "./layout.js";
import { buildSchedule } from "./schedule.js";
import { fmtT, isSummary, isTensorShape } from "./tensor.js";
import { DEFAULT_PROGRAM, DEFAULT_VALUES, fromHash, shareUrl, state, writeHashNow, writeHashSoon } from "./state.js";
import { drawSweep, drawTrajectory } from "./view-charts.js";
import { createCircuitView } from "./view-circuit.js";
import { createEditor } from "./view-editor.js";
import { renderInspector } from "./view-inspector.js";
import { createInputsView } from "./view-inputs.js";

const $ = (id) => document.getElementById(id);
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

let circuit, editor, inputsView, controlsUi;
let firstRender = true;

// ---- layout worker ---------------------------------------------------------------------------
const layoutCache = new Map();
const pendingLayouts = new Map();
let worker = null;

function startWorker() {
  worker = new Worker("/static/js/layout-worker.js", { type: "module" });
  worker.onmessage = (ev) => {
    const { key, layout, error, ms } = ev.data;
    const waiters = pendingLayouts.get(key) || [];
    pendingLayouts.delete(key);
    if (layout) {
      layoutCache.set(key, layout);
      if (layoutCache.size > 40) layoutCache.delete(layoutCache.keys().next().value);
    }
    for (const w of waiters) (layout ? w.resolve({ layout, ms }) : w.reject(new Error(error)));
  };
  worker.onerror = (ev) => {
    for (const ws of pendingLayouts.values()) for (const w of ws) w.reject(new Error(ev.message || "layout worker failed"));
    pendingLayouts.clear();
  };
}

function layoutFor(key, structure) {
  if (layoutCache.has(key)) return Promise.resolve({ layout: layoutCache.get(key), ms: 0, cached: true });
  return new Promise((resolve, reject) => {
    if (pendingLayouts.has(key)) {
      pendingLayouts.get(key).push({ resolve, reject });
      return;
    }
    pendingLayouts.set(key, [{ resolve, reject }]);
    worker.postMessage({ key, structure });
  });
}

// ---- evaluation ------------------------------------------------------------------------------
let evalSeq = 0;
let evalAbort = null;
let evalTimer = null;

function scheduleEvaluate(delay = 250, opts = {}) {
  clearTimeout(evalTimer);
  evalTimer = setTimeout(() => evaluateNow(opts), delay);
}

async function evaluateNow({ fit = false, pos = null } = {}) {
  clearTimeout(evalTimer);
  const seq = ++evalSeq;
  if (evalAbort) evalAbort.abort();
  evalAbort = new AbortController();
  const program = state.program;
  try {
    const { doc, values } = await evaluateReconciled(program, state.values, state.memory,
      { numericCheck: state.numericCheck, signal: evalAbort.signal });
    if (seq !== evalSeq) return;
    // Keep the values the user gave plus those we had to invent; drop names the program lost.
    const keep = {};
    for (const inp of doc.inputs) if (inp.name in values) keep[inp.name] = values[inp.name];
    state.values = keep;
    Object.assign(state.memory, keep);
    state.error = null;
    editor.showError(null);
    state.docProgram = program; // sweeps and optimizer runs use the program that made state.doc
    await showDocument(doc, { fit, pos, seq });
  } catch (err) {
    if (err.name === "AbortError" || seq !== evalSeq) return;
    showError(err);
  }
}

function showError(err) {
  let e;
  if (err instanceof ApiError && err.first) {
    const d = err.first;
    const ctx = d.ctx || {};
    e = { type: d.type, msg: d.msg, line: ctx.line, column: ctx.column, source_line: ctx.source_line, caret: ctx.caret };
  } else {
    e = { type: "error", msg: err.message || String(err) };
  }
  e.kept = !!state.doc;
  state.error = e;
  editor.showError(e);
  $("stage-status").textContent = state.doc ? "showing the last program that worked" : "";
  writeHashSoon();
}

async function showDocument(doc, { fit = false, pos = null, seq = null } = {}) {
  const key = structureKey(doc.nodes, doc.output_id);
  const sched = buildSchedule(doc, state.ops);
  const total = sched.steps.length;
  const timings = { nodes: doc.nodes.length, layoutMs: 0, drawMs: 0 };
  if (key === state.structureKey && state.layout) {
    // Same structure: numbers change in place, nodes stay where they are.
    state.doc = doc;
    state.schedule = sched;
    const t0 = performance.now();
    circuit.updateValues(doc, sched);
    timings.drawMs = performance.now() - t0;
  } else {
    $("stage-status").textContent = doc.nodes.length > 300 ? `laying out ${doc.nodes.length} nodes…` : "";
    const t0 = performance.now();
    const { layout } = await layoutFor(key, structureOf(doc, state.ops));
    timings.layoutMs = performance.now() - t0;
    if (seq !== null && seq !== evalSeq) return timings;
    stopPlaying();
    state.doc = doc;
    state.schedule = sched;
    state.layout = layout;
    state.structureKey = key;
    if (state.selected !== null && !(state.selected < doc.nodes.length)) state.selected = null;
    const t1 = performance.now();
    circuit.render(doc, layout, sched, state.ops);
    if (firstRender && state.view) circuit.setTransform(state.view);
    else circuit.fit(!firstRender);
    firstRender = false;
    timings.drawMs = performance.now() - t1;
    if (pos === null) state.pos = total;
    timings.rebuilt = true;
  }
  if (pos !== null) state.pos = pos;
  if (state.pos === null || state.pos > total) state.pos = total;
  circuit.setPos(state.pos, false);
  circuit.setSelected(state.selected);
  $("legend-tensor").hidden = doc.mode !== "tensor";
  $("stage-status").textContent = `${doc.nodes.length} nodes`
    + (timings.layoutMs ? ` · layout ${Math.round(timings.layoutMs)} ms` : "")
    + (timings.layoutMs ? ` · draw ${Math.round(timings.drawMs)} ms` : "");
  updatePanels({ rebuild: timings.layoutMs > 0 || timings.rebuilt });
  writeHashSoon();
  scheduleSweep();
  return timings;
}

function updatePanels({ rebuild = false } = {}) {
  const doc = state.doc;
  if (!doc) return;
  inputsView.update(doc, { selected: state.selected, rebuild });
  renderInspector($("inspector"), doc, state.schedule, state.ops, state.selected);
  updateNarration();
  updateSweepChoices();
  updateTrainVars();
}

// ---- selection -------------------------------------------------------------------------------
function select(id) {
  state.selected = id;
  circuit.setSelected(id);
  if (state.doc) {
    inputsView.update(state.doc, { selected: id });
    renderInspector($("inspector"), state.doc, state.schedule, state.ops, id);
  }
  writeHashSoon();
}

// ---- animation -------------------------------------------------------------------------------
let playTimer = null;

function stepMs() {
  return 900 / state.speed;
}

function setPos(p, animate = false) {
  if (!state.schedule) return;
  const total = state.schedule.steps.length;
  state.pos = Math.max(0, Math.min(total, p));
  circuit.setStepMs(stepMs());
  circuit.setPos(state.pos, animate);
  updateNarration();
  writeHashSoon();
}

function updateNarration() {
  const box = $("narration");
  const sched = state.schedule;
  if (!sched || !state.doc) return;
  const total = sched.steps.length;
  const pos = state.pos;
  const F = sched.forwardCount;
  // transforms only: the progress bar animates on the compositor
  $("progress-fwd").style.width = `${(F / total) * 100}%`;
  $("progress-fwd").style.transform = `scaleX(${F ? Math.min(pos, F) / F : 0})`;
  $("progress-bwd").style.left = `${(F / total) * 100}%`;
  $("progress-bwd").style.width = `${((total - F) / total) * 100}%`;
  $("progress-bwd").style.transform = `scaleX(${total > F ? Math.max(0, pos - F) / (total - F) : 0})`;
  const badge = document.createElement("span");
  const text = document.createElement("span");
  text.dataset.testid = "narration-text";
  if (pos === 0) {
    badge.className = "phase done";
    badge.textContent = "ready";
    text.textContent = "Press play (space) or step (→): values flow forward through the gates in topological order, then gradients flow back.";
  } else if (pos === total) {
    badge.className = "phase done";
    badge.textContent = "done";
    text.textContent = state.doc.mode === "tensor"
      ? `${state.doc.output} = ${fmtT(state.doc.value, { digits: 8 })}. Heatmaps: value (left), gradient ∂${state.doc.output}/∂· (right); hover for numbers. Edges: shape forward, ‖gradient‖ back.`
      : `${state.doc.output} = ${fmt(state.doc.value, 8)}. Every edge shows its value (green, above) and its gradient ∂${state.doc.output}/∂· (red, below).`;
  } else {
    const step = sched.steps[pos - 1];
    badge.className = `phase ${step.phase}`;
    const k = step.phase === "forward" ? pos : pos - F;
    const n = step.phase === "forward" ? F : total - F;
    badge.textContent = `${step.phase} ${k}/${n}`;
    text.textContent = step.text;
  }
  box.replaceChildren(badge, text);
  box.dataset.pos = String(pos);
  // Screen readers hear single steps, not every frame of a running animation (a live region
  // that changes several times a second also costs a full accessibility-tree update).
  if (!state.playing) $("narration-live").textContent = `${badge.textContent}: ${text.textContent}`;
}

function step(d) {
  stopPlaying();
  setPos(state.pos + d, d > 0);
}

function jump(where) {
  stopPlaying();
  if (!state.schedule) return;
  if (where === "start") setPos(0);
  else if (where === "forward") setPos(state.schedule.forwardCount);
  else setPos(state.schedule.steps.length);
}

function tick() {
  const total = state.schedule ? state.schedule.steps.length : 0;
  if (!state.playing || state.pos >= total) {
    stopPlaying();
    return;
  }
  setPos(state.pos + 1, true);
  // Pause a beat at the turn from forward to backward.
  const extra = state.pos === state.schedule.forwardCount ? stepMs() * 0.8 : 0;
  playTimer = setTimeout(tick, stepMs() + extra);
}

function togglePlay() {
  if (state.playing) {
    stopPlaying();
    return;
  }
  if (!state.schedule) return;
  if (state.pos >= state.schedule.steps.length) setPos(0);
  state.playing = true;
  controlsUi.setPlaying(true);
  playTimer = setTimeout(tick, 120);
}

function stopPlaying() {
  clearTimeout(playTimer);
  playTimer = null;
  if (state.playing) {
    state.playing = false;
    controlsUi.setPlaying(false);
  }
}

// ---- presets ---------------------------------------------------------------------------------
function fillPresets() {
  const sel = $("preset-select");
  for (const p of state.presets) {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = p.title;
    sel.appendChild(o);
  }
  sel.addEventListener("change", () => {
    const p = state.presets.find((q) => q.id === sel.value);
    if (p) loadPreset(p);
  });
}

function loadPreset(p) {
  stopPlaying();
  state.presetId = p.id;
  state.program = p.program;
  state.values = { ...p.values };
  Object.assign(state.memory, p.values);
  state.selected = null;
  const opt = p.expected && p.expected.optimize;
  state.trainVars = opt && opt.variables ? [...opt.variables] : null;
  if (opt) {
    $("opt-mode").value = opt.mode;
    $("opt-size").value = String(opt.step_size);
    $("opt-n").value = String(opt.steps);
  }
  editor.setText(p.program);
  const notes = $("preset-notes");
  notes.hidden = false;
  const strong = document.createElement("strong");
  strong.textContent = p.title;
  const txt = document.createElement("span");
  txt.textContent = p.notes;
  notes.replaceChildren(strong, txt);
  notes.dataset.presetId = p.id;
  evaluateNow({ fit: true, pos: null });
}

// ---- gradient steps --------------------------------------------------------------------------
function currentValues() {
  const out = {};
  if (state.doc) for (const i of state.doc.inputs) if (!isSummary(i.value)) out[i.name] = i.value;
  return out;
}

// Values an optimizer run hands back that the page can send again: numbers and nested lists
// (trajectory entries for tensors are {shape, norm}; big final tensors may be summaries).
function usable(values) {
  const out = {};
  for (const [k, v] of Object.entries(values || {})) if (typeof v === "number" || Array.isArray(v)) out[k] = v;
  return out;
}

// Tensor mode: which inputs "gradient steps" move (a weight, yes; the data, usually not).
function updateTrainVars() {
  const box = $("train-vars");
  const doc = state.doc;
  if (!doc || doc.mode !== "tensor" || doc.inputs.length < 2) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const names = doc.inputs.map((i) => i.name);
  if (state.trainVars) state.trainVars = state.trainVars.filter((n) => names.includes(n));
  const key = names.join(",") + "|" + (state.trainVars ? state.trainVars.join(",") : "*");
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.hidden = false;
  const label = document.createElement("span");
  label.textContent = "move:";
  const items = names.map((n) => {
    const l = document.createElement("label");
    const c = document.createElement("input");
    c.type = "checkbox";
    c.value = n;
    c.dataset.testid = `train-${n}`;
    c.checked = !state.trainVars || state.trainVars.includes(n);
    c.addEventListener("change", () => {
      state.trainVars = [...box.querySelectorAll("input:checked")].map((x) => x.value);
      box.dataset.key = names.join(",") + "|" + state.trainVars.join(",");
    });
    l.append(c, document.createTextNode(n));
    return l;
  });
  box.replaceChildren(label, ...items);
}

function trainVariables() {
  if (!state.doc || state.doc.mode !== "tensor" || !state.trainVars) return null;
  return state.trainVars.length ? state.trainVars : null;
}

let optAnim = null;
async function optimize(mode, steps) {
  if (!state.doc) return;
  const size = Number($("opt-size").value);
  const status = $("opt-status");
  if (!(size >= 0)) {
    status.textContent = "step size must be a non-negative number";
    return;
  }
  if (optAnim) cancelAnimationFrame(optAnim);
  try {
    if (state.doc.mode === "tensor" && state.trainVars && !state.trainVars.length) {
      status.textContent = "tick at least one input to move";
      return;
    }
    const res = await api.optimize(state.docProgram ?? state.program, currentValues(), mode, size, steps, undefined, trainVariables());
    const traj = res.trajectory;
    const out = state.doc.output;
    if (steps === 1) {
      state.values = { ...state.values, ...usable(res.final.values) };
      drawTrajectory($("opt-chart"), traj.map((t) => t.value), 1, out);
      status.textContent = `${mode}: ${out} ${fmt(traj[0].value, 6)} → ${fmt(res.final.value, 6)}`;
      await evaluateNow();
      return;
    }
    const dur = Math.min(3000, Math.max(600, traj.length * 20));
    const t0 = performance.now();
    let lastEval = 0;
    const frame = (now) => {
      const k = Math.min(traj.length - 1, Math.floor(((now - t0) / dur) * (traj.length - 1)));
      drawTrajectory($("opt-chart"), traj.slice(0, k + 1).map((t) => t.value), traj.length - 1, out);
      status.textContent = `step ${traj[k].step}/${res.steps}: ${out} = ${fmt(traj[k].value, 8)}`;
      if (now - lastEval > 90 || k === traj.length - 1) {
        lastEval = now;
        state.values = { ...state.values, ...usable(k === traj.length - 1 ? res.final.values : traj[k].values) };
        evaluateNow();
      }
      if (k < traj.length - 1) optAnim = requestAnimationFrame(frame);
      else {
        optAnim = null;
        const vals = Object.entries(res.final.values).filter(([n]) => res.variables.includes(n))
          .map(([n, v]) => `${n} ${fmtT(v, { digits: 6 })}`).join(", ");
        status.textContent = `after ${res.steps} steps: ${vals}; ${out} = ${fmt(res.final.value, 10)}`;
        status.dataset.final = String(res.final.value);
      }
    };
    optAnim = requestAnimationFrame(frame);
  } catch (err) {
    status.textContent = err.message;
  }
}

// ---- sweep -----------------------------------------------------------------------------------
let sweepTimer = null;
let sweepSeq = 0;

function updateSweepChoices() {
  const sel = $("sweep-var");
  // sweeps run along one number: the scalar inputs (tensor programs may have a few, like lam)
  const names = state.doc.inputs.filter((i) => !isTensorShape(i.shape)).map((i) => i.name);
  const have = [...sel.options].map((o) => o.value);
  if (have.join(",") !== names.join(",")) {
    sel.replaceChildren(...names.map((n) => {
      const o = document.createElement("option");
      o.value = n;
      o.textContent = n;
      return o;
    }));
  }
  if (!names.includes(state.sweepVar)) state.sweepVar = names[0] ?? null;
  if (state.sweepVar) sel.value = state.sweepVar;
}

function scheduleSweep() {
  clearTimeout(sweepTimer);
  sweepTimer = setTimeout(runSweep, 200);
}

async function runSweep() {
  const doc = state.doc;
  const v = state.sweepVar;
  const status = $("sweep-status");
  if (!doc || !v) {
    $("sweep-chart").replaceChildren();
    status.textContent = doc ? (doc.inputs.length ? "no scalar inputs to sweep" : "no inputs to sweep") : "";
    return;
  }
  const seq = ++sweepSeq;
  const x0 = doc.inputs.find((i) => i.name === v).value;
  const r = Math.max(1e-3, Number($("sweep-range").value) || 5);
  try {
    const res = await api.sweep(state.docProgram ?? state.program, currentValues(), v, x0 - r, x0 + r, 121);
    if (seq !== sweepSeq || doc !== state.doc) return;
    const f0 = typeof doc.value === "number" ? doc.value : NaN; // a tensor output: no tangent line
    drawSweep($("sweep-chart"), res, x0, f0, doc.gradients[v], v, doc.output);
    status.textContent = `${doc.output} along ${v} ∈ [${fmt(x0 - r)}, ${fmt(x0 + r)}]; dashed: tangent at ${v} = ${fmt(x0)}, slope ∂${doc.output}/∂${v} = ${fmt(doc.gradients[v], 6)}`;
  } catch (err) {
    if (seq === sweepSeq) status.textContent = err.message;
  }
}

// ---- hash ------------------------------------------------------------------------------------
function restoreFromHash(h) {
  const r = fromHash(h);
  if (!r) return false;
  state.program = r.program;
  state.values = r.values;
  Object.assign(state.memory, r.values);
  state.selected = r.selected ?? null;
  state.pos = r.pos ?? null;
  state.numericCheck = r.numericCheck;
  state.view = r.view ?? null;
  $("numeric-check").checked = state.numericCheck;
  return true;
}

// ---- bench / test hook -----------------------------------------------------------------------
async function loadDocument(rawDoc) {
  const doc = decodeNumbers(rawDoc);
  stopPlaying();
  state.pos = null;
  const t0 = performance.now();
  const timings = await showDocument(doc, { fit: true });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  timings.totalMs = performance.now() - t0;
  return timings;
}

// ---- start -----------------------------------------------------------------------------------
async function init() {
  circuit = createCircuitView($("circuit"), {
    fxNode: $("circuit-fx"),
    tipNode: $("tensor-tip"),
    onSelect: select,
    onZoom: (t, byUser) => {
      if (byUser) {
        state.view = t;
        writeHashSoon();
      }
    },
  });
  circuit.setReducedMotion(reducedMotion.matches);
  reducedMotion.addEventListener("change", () => circuit.setReducedMotion(reducedMotion.matches));
  editor = createEditor({
    textarea: $("program"), gutter: $("editor-gutter"), overlay: $("editor-overlay"), errorBox: $("program-error"),
    onChange: (text) => {
      state.program = text;
      const preset = state.presets.find((q) => q.id === state.presetId);
      if (!preset || preset.program !== text) {
        state.presetId = null;
        $("preset-notes").hidden = true;
        $("preset-select").value = "";
      }
      scheduleEvaluate(350);
    },
  });
  inputsView = createInputsView($("inputs"), $("result"), {
    onValue: (name, v, { live }) => {
      state.values[name] = v;
      state.memory[name] = v;
      scheduleEvaluate(live ? 40 : 200);
    },
    onSelect: select,
    onReset: (name) => {
      delete state.values[name];
      delete state.memory[name];
      scheduleEvaluate(0);
    },
  });
  controlsUi = bindControls({ togglePlay, step, jump, setSpeed: (s) => { state.speed = s; circuit.setStepMs(stepMs()); },
    zoomBy: (f) => circuit.zoomBy(f), fit: () => circuit.fit() });
  $("numeric-check").addEventListener("change", (ev) => {
    state.numericCheck = ev.target.checked;
    evaluateNow();
  });
  $("opt-up").addEventListener("click", () => optimize("ascent", 1));
  $("opt-down").addEventListener("click", () => optimize("descent", 1));
  $("opt-run").addEventListener("click", () => {
    const n = Math.max(1, Math.min(10000, Math.round(Number($("opt-n").value) || 1)));
    optimize($("opt-mode").value, n);
  });
  $("sweep-var").addEventListener("change", (ev) => {
    state.sweepVar = ev.target.value;
    runSweep();
  });
  $("sweep-range").addEventListener("change", runSweep);
  $("share-btn").addEventListener("click", async () => {
    writeHashNow();
    const url = shareUrl();
    $("share-bar").hidden = false;
    $("share-url").value = url;
    $("share-url").select();
    try {
      await navigator.clipboard.writeText(url);
      $("share-status").textContent = "copied to the clipboard";
    } catch {
      $("share-status").textContent = "select and copy the link";
    }
  });
  $("export-svg").addEventListener("click", () => state.doc && exportSvg($("circuit"), state.layout, state.doc));
  $("export-png").addEventListener("click", () => state.doc && exportPng($("circuit"), state.layout, state.doc));
  $("export-json").addEventListener("click", () => state.doc && exportJson(state.doc, state.program));
  window.addEventListener("hashchange", () => {
    if (location.hash && location.hash !== "#" && restoreFromHash(location.hash)) {
      editor.setText(state.program);
      firstRender = true;
      state.structureKey = null;
      evaluateNow({ pos: state.pos });
    }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      circuit.fit(false);
      runSweep();
    }, 150);
  });

  startWorker();
  if (!restoreFromHash(location.hash)) {
    state.program = DEFAULT_PROGRAM;
    state.values = { ...DEFAULT_VALUES };
  }
  editor.setText(state.program);

  const [ops, presets] = await Promise.all([api.ops(), api.presets().catch(() => [])]);
  state.ops = new Map(ops.map((o) => [o.name, o]));
  state.presets = presets;
  fillPresets();
  await evaluateNow({ pos: state.pos });
  drawTrajectory($("opt-chart"), [], 1, "run N steps to plot the output per step");
  document.body.dataset.ready = "true";
}

// Frame-time probe for the benchmark: rAF deltas over `ms` milliseconds.
function measureFrames(ms) {
  return new Promise((resolve) => {
    const deltas = [];
    const t0 = performance.now();
    let last = t0;
    const f = (now) => {
      deltas.push(now - last);
      last = now;
      if (now - t0 < ms) requestAnimationFrame(f);
      else resolve(deltas.slice(1));
    };
    requestAnimationFrame(f);
  });
}

window.backpropLab = {
  state, loadDocument, evaluateNow, setPos, select, measureFrames,
  play: () => { if (!state.playing) togglePlay(); },
  pause: stopPlaying,
  setSpeed: (s) => { state.speed = s; circuit.setStepMs(stepMs()); },
};

init().catch((err) => {
  console.error(err);
  const box = $("program-error");
  box.hidden = false;
  box.textContent = `The page could not start: ${err.message}`;
});
