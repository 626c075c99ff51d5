// Every word the page shows, in one place. English is the catalogue here; a translator copies `en`
// to a new catalogue (say `zh`), translates the values (keep the {placeholders}) and registers it
// with registerCatalogue("zh", {...}) or adds it to CATALOGUES; `#lang=zh` in the URL (or
// applyState({lang: "zh"})) switches. Missing keys fall back to English. The template's static
// text carries data-i18n / data-i18n-title / data-i18n-aria keys that applyStrings() fills in.
// No DOM at import time (schedule.js imports this; it is also used outside the page's views).

const en = {
  "app.name": "Backprop Lab",
  "app.tagline": "values flow forward, gradients flow back",
  "app.startFailed": "The page could not start: {msg}",
  "preset.label": "Worked example",
  "preset.choose": "Choose a preset…",
  "present.button": "Present",
  "present.title": "Presenter mode: the circuit fills the screen (P)",
  "share.button": "Share",
  "share.title": "Copy a link to this circuit",
  "share.label": "Link to this circuit",
  "share.copied": "copied to the clipboard",
  "share.select": "select and copy the link",
  "export.title": "Export the circuit at the current step",
  "export.jsonTitle": "The evaluation and the current step as JSON",
  "panel.left": "Program and inputs",
  "panel.stage": "Circuit",
  "panel.right": "Inspector and tools",
  "overlay.close": "close",
  "overlay.left": "Program",
  "overlay.right": "Inspector",
  "program.title": "Program",
  "program.hint": "one assignment per line or ;",
  "inputs.title": "Inputs",
  "numeric.title": "Compare every analytic gradient with a finite difference",
  "numeric.label": "numerical check",
  "controls.label": "Animation",
  "controls.start": "Back to the start (Home)",
  "controls.back": "Step back (←)",
  "controls.play": "▶ Play",
  "controls.pause": "❚❚ Pause",
  "controls.playTitle": "Play / pause (space)",
  "controls.fwd": "Step forward (→)",
  "controls.endFwd": "forward ⇥",
  "controls.endFwdTitle": "Jump to the end of the forward pass",
  "controls.endBwd": "backward ⇥",
  "controls.endBwdTitle": "Jump to the end of the backward pass",
  "controls.speed": "speed",
  "controls.by": "by",
  "controls.byGate": "gate",
  "controls.byStatement": "statement",
  "controls.follow": "follow",
  "controls.followTitle": "The camera follows the active node during playback",
  "scrubber.label": "Animation position: drag to scrub",
  "scrubber.value": "step {pos} of {total}",
  "circuit.aria": "Computational graph: Tab to a node, arrows to follow edges, Enter to inspect",
  "circuit.edgeTitle": "{from} → {to}: value {value}, gradient {grad}",
  "circuit.outTitle": "output {name} = {value}",
  "circuit.groupTitle": "{title} ({n} nodes folded; double-click to unfold): value {value}, gradient {grad}",
  "circuit.groupBadge": "{n} nodes",
  "circuit.forkShort": "{n} add = {g}",
  "zoom.in": "Zoom in",
  "zoom.out": "Zoom out",
  "zoom.fit": "fit",
  "zoom.fitTitle": "Fit to screen (F)",
  "legend.value": "value (forward), above",
  "legend.grad": "gradient (backward), below",
  "legend.heat": "heatmaps",
  "fold.all": "fold all",
  "fold.allTitle": "Draw every statement as one box",
  "fold.none": "unfold all",
  "fold.noneTitle": "Draw every gate",
  "fold.statement": "fold statement",
  "fold.expression": "fold sub-expression",
  "fold.unfold": "unfold",
  "fork.tensor": "{n} gradients add",
  "fork.many": "Σ of {n} = {g}",
  "status.kept": "showing the last program that worked",
  "status.layingOut": "laying out {n} nodes…",
  "status.nodes": "{n} nodes",
  "status.timings": " · layout {layout} ms ({engine}) · draw {draw} ms",
  "status.engineFast": "layered",
  "status.zoomInHint": "zoom in to read the numbers",
  "narration.ready": "ready",
  "narration.done": "done",
  "narration.start": "Press play (space) or step (→): values flow forward through the gates in topological order, then gradients flow back.",
  "narration.end": "{out} = {value}. Every edge shows its value (above) and its gradient ∂{out}/∂· (boxed, below).",
  "narration.endTensor": "{out} = {value}. Heatmaps: value (left), gradient ∂{out}/∂· (right); hover for numbers. Edges: shape forward, ‖gradient‖ back.",
  "narration.forward": "forward {k}/{n}",
  "narration.backward": "backward {k}/{n}",
  "caption.input": "input {name} = {value}",
  "caption.const": "constant {value}",
  "caption.scalar": "scalar",
  "caption.seed": "(the output's gradient starts at 1)",
  "caption.forkAdds": "(gradients add at a fork)",
  "caption.tensorFork": "{fs} at this fork = {g}",
  "chain.unreached": "({name} does not reach {out})",
  "chain.piece": "{shape} from {from}",
  "chain.summed": "(summed)",
  "editor.where": "line {line}, column {column}: ",
  "editor.kept": "The circuit shows the last program that worked.",
  "inputs.reset": "reset",
  "inputs.resetTitle": "Back to the program's own value",
  "inputs.tensorAria": "value of {name} as a nested list",
  "inputs.selectTitle": "Select {name} in the circuit",
  "inputs.valueAria": "value of {name}",
  "inputs.sliderAria": "slider for {name}",
  "inputs.none": "This program has no inputs.",
  "inputs.numeric": "numeric {v} · rel. error {err}{ok}",
  "inputs.numericTensor": "numeric check on {n} elements: max rel. error {err}{ok}",
  "inputs.numericTensor1": "numeric check on {n} element: max rel. error {err}{ok}",
  "inputs.numericDetail": "numeric vs analytic, element by element",
  "inputs.colIndex": "index",
  "inputs.colNumeric": "numeric",
  "inputs.colAnalytic": "analytic",
  "inputs.checkPassed": "numerical check passed (h = {h}, tolerance {tol})",
  "inputs.checkFailed": "numerical check: some gradients disagree (h = {h})",
  "inputs.fromProgram": "from the program",
  "inputs.tooBig": "{shape}: too big to edit here ({v})",
  "inspector.title": "Inspector",
  "inspector.empty": "Click a node in the circuit (or an input's name) to see its formula, local gradients and the chain rule.",
  "inspector.input": "input",
  "inspector.constant": "constant",
  "inspector.gate": "{op} gate",
  "inspector.matrixRule": "the local rule in matrix form",
  "inspector.localGrads": "local gradients → gradient sent back on each edge",
  "inspector.localRule": "local rule → gradient sent back on each edge",
  "inspector.inputRule": "an input's gradient is the sum of the gradients on its out-edges",
  "inspector.inputRuleTensor": "an input's gradient is the sum of the gradients on its out-edges, each already summed back to the input's shape (broadcasting)",
  "inspector.constRule": "a constant: nothing is differentiated with respect to it",
  "inspector.value": "value",
  "inspector.path": "path",
  "inspector.unreached": "does not reach {out}",
  "inspector.chainRule": "chain rule",
  "inspector.shape": "shape",
  "inspector.noGrad": "a constant: no gradient",
  "inspector.noneConst": "none (constant)",
  "inspector.moreRows": "… {n} more rows",
  "tip.value": "value {v}",
  "tip.constant": "constant: no gradient",
  "tip.later": "gradient: after the backward pass",
  "opt.title": "Gradient steps",
  "opt.up": "step uphill ↑",
  "opt.down": "step downhill ↓",
  "opt.size": "step size",
  "opt.ascentLong": "ascent (maximise)",
  "opt.descentLong": "descent (minimise)",
  "opt.run": "run N steps",
  "opt.chartAria": "Output per step",
  "opt.placeholder": "run N steps to plot the output per step",
  "opt.move": "move:",
  "opt.badSize": "step size must be a non-negative number",
  "opt.tickOne": "tick at least one input to move",
  "opt.ascent": "ascent",
  "opt.descent": "descent",
  "opt.oneStep": "{mode}: {out} {from} → {to}",
  "opt.progress": "step {step}/{steps}: {out} = {value}",
  "opt.after": "after {steps} steps: {vals}; {out} = {value}",
  "contour.aria": "The output over both inputs, with the optimizer's path",
  "contour.caption": "{out} over {x} (across) and {y} (up); darker is higher; the line is the optimizer's path ({n} points)",
  "sweep.title": "Sweep",
  "sweep.input": "input",
  "sweep.chartAria": "Output along one input",
  "sweep.noScalar": "no scalar inputs to sweep",
  "sweep.noInputs": "no inputs to sweep",
  "sweep.caption": "{out} along {v} ∈ [{lo}, {hi}]; dashed: tangent at {v} = {x0}, slope ∂{out}/∂{v} = {slope}",
  "footer.keys": "Keys: space play/pause · ←/→ step · P presenter mode · F fit · Tab into the circuit, arrows along edges, Enter to inspect · scroll to zoom, drag to pan.",
};

const CATALOGUES = { en };
let lang = "en";

export function registerCatalogue(code, strings) {
  CATALOGUES[code] = { ...(CATALOGUES[code] || {}), ...strings };
}

// Switch the language (unknown codes keep the current one); returns the language in use.
export function setLang(code) {
  if (code && CATALOGUES[code]) lang = code;
  return lang;
}
export function getLang() {
  return lang;
}
export function keys() {
  return Object.keys(en);
}

// The string for `key` with {placeholders} filled from `vars`.
export function t(key, vars = null) {
  const s = CATALOGUES[lang][key] ?? en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

// Fill the template's static text from the catalogue.
export function applyStrings(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  if (root.documentElement) root.documentElement.lang = lang;
}
