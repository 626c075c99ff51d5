// Quiz mode (predict, then reveal) as a model: the questions a document asks, the numbers that stay
// hidden until their question is revealed, and the masked document every view draws. No DOM.
//
// The one mechanism: the controller shows `maskDoc(fullDoc, hiddenOf(...))`, a copy of the engine's
// document in which every hidden number is the HIDDEN sentinel (format.js: prints "?", is "" in
// data-* attributes and null in JSON). Views only ever see that copy (circuit labels and titles, the
// inputs panel, the result box, the inspector, captions, the sweep's tangent, exports), so no view
// can show a number the quiz has not revealed, whatever it does with it.
//
// state.quiz (shared, JSON; getState/applyState carry it to a live room):
//   {mode: "off" | "grad" | "value" | "both",
//    run: the run's key (program + input values; a new run starts with nothing revealed),
//    revealed: [question keys],
//    answers: {key: {tries, correct, last}},
//    current: the question a teacher asked (null: the next one where the animation stands)}
// Question keys: "g:<node id>" (the gradient of a node), "v:<node id>" (the value of a gate),
// "lesson:<lesson id>:<step index>" (a lesson step's question).
import { HIDDEN, isHidden } from "./format.js";
import { isTensorNode } from "./tensor.js";

export const QUIZ_MODES = ["off", "grad", "value", "both"];

export function emptyQuiz(mode = "off") {
  return { mode: QUIZ_MODES.includes(mode) ? mode : "off", run: null, revealed: [], answers: {}, current: null };
}

// A quiz state from outside (a URL, a teacher's snapshot): only well-formed parts are kept.
export function normalizeQuiz(q) {
  const out = emptyQuiz(q && q.mode);
  if (!q || typeof q !== "object") return out;
  if (typeof q.run === "string") out.run = q.run;
  if (Array.isArray(q.revealed)) out.revealed = q.revealed.filter((k) => typeof k === "string");
  if (q.answers && typeof q.answers === "object") {
    for (const [k, a] of Object.entries(q.answers)) {
      if (!a || typeof a !== "object") continue;
      out.answers[k] = { tries: Number(a.tries) || 0, correct: a.correct === true, last: typeof a.last === "number" ? a.last : null };
    }
  }
  if (typeof q.current === "string") out.current = q.current;
  return out;
}

export function quizOn(state) {
  return !!(state.quiz && state.quiz.mode !== "off");
}

// The key of one run: the program and the input values the engine used (FNV-1a, so that a teacher's
// page and a participant's page compute the same key for the same circuit).
export function runKey(doc) {
  const text = `${doc.program || ""}\u0000${JSON.stringify(doc.inputs.map((i) => [i.name, i.value]))}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

// Start a new run when the circuit's program or values changed (nothing revealed, no answers).
export function syncRun(quiz, doc) {
  const key = runKey(doc);
  if (quiz.run === key) return false;
  quiz.run = key;
  quiz.revealed = [];
  quiz.answers = {};
  quiz.current = null;
  return true;
}

// The lesson step the quiz follows: {key, step} while a lesson is open and the circuit on screen is
// that step's (program and values); {key, step: null} while its data is still loading (then
// everything is hidden: the quiz fails closed); null otherwise.
export function lessonQuizOf(state, doc) {
  if (!state.lesson) return null;
  const key = `lesson:${state.lesson.id}:${state.lesson.step}`;
  const data = state.lessonData;
  const step = data && data.id === state.lesson.id ? data.steps[state.lesson.step] : null;
  if (!step) return { key, step: null };
  if (!doc || !sameCircuit(doc, step)) return null; // the learner changed the circuit: free play
  return { key, step };
}

function sameCircuit(doc, step) {
  const norm = (s) => String(s || "").replace(/\s+/g, " ").trim();
  if (norm(doc.program) !== norm(step.program)) return false;
  for (const [name, v] of Object.entries(step.values || {})) {
    const inp = doc.inputs.find((i) => i.name === name);
    if (inp && JSON.stringify(inp.value) !== JSON.stringify(v)) return false;
  }
  return true;
}

function gradNodes(doc) {
  return doc.nodes.filter((n) => n.id !== doc.output_id && n.op !== "const" && n.grad !== null && n.grad !== undefined);
}
function gates(doc) {
  return doc.nodes.filter((n) => n.op !== "input" && n.op !== "const");
}

// The first position at which any part of node id's gradient is on the circuit: the backward step
// of its first consumer (an edge into it carries a part), or its own.
function firstGradPos(sched, id) {
  let p = sched.bwdStep[id];
  for (const e of sched.outs[id]) p = Math.min(p, sched.bwdStep[e.target]);
  return p;
}
// The position before which a node's gradient must be predicted: when its last part arrives.
function lastGradPos(sched, id) {
  const outs = sched.outs[id];
  if (!outs.length) return sched.bwdStep[id];
  let p = -1;
  for (const e of outs) p = Math.max(p, sched.bwdStep[e.target]);
  return p;
}

// The questions of a document, in the order they are asked. Each: {key, kind: "grad" | "value",
// node, at (the animation cannot pass this position until it is revealed), answer, rel_tol, abs_tol,
// revealOnly (a tensor or a step without a number to type: think, then reveal), lesson (the API's
// step, for a lesson's question)}.
export function questionsOf(doc, sched, quiz, lesson) {
  if (!quiz || quiz.mode === "off" || !doc || !sched) return [];
  if (lesson) {
    const total = sched.steps.length;
    if (!lesson.step) return [{ key: lesson.key, kind: "grad", node: null, at: 0, answer: null, revealOnly: true, loading: true }];
    const step = lesson.step, q = step.question;
    const at = Math.max(0, Math.min(total, step.animation ? step.animation.pos : total));
    if (!q) return [{ key: lesson.key, kind: "grad", node: null, at, answer: null, revealOnly: true, lesson: step }];
    return [{
      key: lesson.key, kind: q.family === "value" ? "value" : "grad", node: q.node ?? null, at,
      answer: q.answer, rel_tol: q.rel_tol ?? 0.01, abs_tol: q.abs_tol ?? 1e-9,
      revealOnly: typeof q.answer !== "number", lesson: step,
    }];
  }
  const out = [];
  const m = quiz.mode;
  if (m === "value" || m === "both") {
    for (const n of gates(doc)) {
      out.push({ key: `v:${n.id}`, kind: "value", node: n.id, at: sched.fwdStep[n.id], answer: n.value,
        rel_tol: 0.01, abs_tol: 1e-9, revealOnly: isTensorNode(n) || typeof n.value !== "number" });
    }
  }
  if (m === "grad" || m === "both") {
    for (const n of gradNodes(doc)) {
      out.push({ key: `g:${n.id}`, kind: "grad", node: n.id, at: lastGradPos(sched, n.id), answer: n.grad,
        rel_tol: 0.01, abs_tol: 1e-9, revealOnly: isTensorNode(n) || typeof n.grad !== "number" });
    }
  }
  out.sort((a, b) => a.at - b.at || (a.kind === b.kind ? a.node - b.node : a.kind === "value" ? -1 : 1));
  return out;
}

// How far the animation may go: the position of the first question not yet revealed.
export function limitOf(questions, quiz) {
  if (!questions.length) return Infinity;
  const revealed = new Set(quiz.revealed);
  let lim = Infinity;
  for (const q of questions) if (!revealed.has(q.key) && q.at < lim) lim = q.at;
  return lim;
}

// The question to answer now: the one a teacher asked, else the first unrevealed one at or before
// the animation's position (null while the animation has not reached one).
export function currentOf(questions, quiz, pos) {
  const revealed = new Set(quiz.revealed);
  if (quiz.current) {
    const q = questions.find((x) => x.key === quiz.current);
    if (q && !revealed.has(q.key)) return q;
  }
  for (const q of questions) if (!revealed.has(q.key) && q.at <= pos) return q;
  return null;
}

// Which numbers stay hidden: {value: Set of node ids, grad: Set of node ids}, or null (none).
export function hiddenOf(doc, sched, quiz, lesson, questions) {
  if (!quiz || quiz.mode === "off" || !doc || !sched) return null;
  const revealed = new Set(quiz.revealed);
  const value = new Set(), grad = new Set();
  if (lesson) {
    const q = questions[0];
    if (!lesson.step) {
      for (const n of gates(doc)) value.add(n.id);
      for (const n of gradNodes(doc)) grad.add(n.id);
    } else if (q && !revealed.has(q.key)) {
      // what the step's position has not shown yet, of the family its question asks about (a
      // forward question hides the gradients as well: ∂f/∂z = q would give q away)
      const family = lesson.step.question ? lesson.step.question.family : "gradient";
      if (family === "value") {
        for (const n of gates(doc)) if (sched.fwdStep[n.id] >= q.at) value.add(n.id);
        for (const n of gradNodes(doc)) grad.add(n.id);
      } else {
        for (const n of gradNodes(doc)) if (firstGradPos(sched, n.id) >= q.at) grad.add(n.id);
      }
    }
  } else {
    const m = quiz.mode;
    if (m === "value" || m === "both") for (const n of gates(doc)) if (!revealed.has(`v:${n.id}`)) value.add(n.id);
    if (m === "grad" || m === "both") {
      for (const n of gradNodes(doc)) if (!revealed.has(`g:${n.id}`)) grad.add(n.id);
    } else if (value.size) {
      for (const n of gradNodes(doc)) grad.add(n.id); // gradients give values away (∂f/∂z = q)
    }
  }
  return value.size || grad.size ? { value, grad } : null;
}

// The document the views draw: the engine's document with every hidden number replaced by HIDDEN.
// A gate's local gradient with respect to an operand is hidden with the operand's gradient (the two
// multiply into it) and with the gate's value (sigmoid' = s(1 - s) gives s away); the gradient an
// edge carries is hidden with either end. The copy carries `hidden` (not enumerable, not exported).
export function maskDoc(doc, h) {
  if (!h) return doc;
  const localHidden = (n, i) => h.value.has(n.id) || h.grad.has(n.operands[i]);
  const nodes = doc.nodes.map((n) => {
    const hv = h.value.has(n.id), hg = h.grad.has(n.id);
    const hl = n.operands.some((_, i) => localHidden(n, i));
    if (!hv && !hg && !hl) return n;
    const m = { ...n };
    if (hv) m.value = HIDDEN;
    if (hg) m.grad = HIDDEN;
    if (hl || hg) {
      m.local_grads = n.local_grads.map((l, i) => (l === null || l === undefined || !localHidden(n, i) ? l : HIDDEN));
      if (n.edge_grads) {
        m.edge_grads = n.edge_grads.map((g, i) => (g === null || g === undefined || !(hg || localHidden(n, i)) ? g : HIDDEN));
      }
    }
    return m;
  });
  const gradients = {};
  for (const inp of doc.inputs) gradients[inp.name] = h.grad.has(inp.id) ? HIDDEN : doc.gradients[inp.name];
  let numeric = doc.numeric;
  if (numeric && numeric.inputs) {
    const rows = {};
    for (const [name, row] of Object.entries(numeric.inputs)) {
      const inp = doc.inputs.find((i) => i.name === name);
      rows[name] = inp && h.grad.has(inp.id) ? { ...row, numeric: HIDDEN, analytic: HIDDEN } : row;
    }
    numeric = { ...numeric, inputs: rows };
  }
  if (numeric && Array.isArray(numeric.gates)) {
    // a user gate's check row holds its declared local gradient and the measured one (and a note
    // with both): hidden with the gate's local gradients; the verdict (ok) stays, it is the lesson
    numeric = { ...numeric, gates: numeric.gates.map((r) => {
      const n = r && doc.nodes[r.node];
      if (!n || !n.operands.some((_, i) => localHidden(n, i))) return r;
      return { ...r, declared: HIDDEN, numeric: HIDDEN, note: HIDDEN };
    }) };
  }
  const out = { ...doc, nodes, gradients, numeric, value: h.value.has(doc.output_id) ? HIDDEN : doc.value };
  Object.defineProperty(out, "hidden", { value: h, enumerable: false });
  return out;
}

// ---- answers ------------------------------------------------------------------------------------
// What the learner typed, as a number: "−4", "-4", "４", "0.25", "1/4", "1e-3", "2,5" (comma decimal).
export function parsePrediction(text) {
  let s = String(text ?? "").normalize("NFKC").replace(/[−–—]/g, "-").replace(/\s+/g, "");
  if (/^-?\d+,\d+$/.test(s)) s = s.replace(",", ".");
  if (!s) return null;
  const frac = /^(-?[\d.]+(?:e[-+]?\d+)?)\/(-?[\d.]+(?:e[-+]?\d+)?)$/i.exec(s);
  const v = frac ? Number(frac[1]) / Number(frac[2]) : Number(s);
  return Number.isFinite(v) ? v : null;
}

// |p - answer| <= max(rel_tol * |answer|, abs_tol) (docs/lessons.md).
export function isRight(prediction, q) {
  if (typeof prediction !== "number" || typeof q.answer !== "number") return false;
  return Math.abs(prediction - q.answer) <= Math.max((q.rel_tol ?? 0.01) * Math.abs(q.answer), q.abs_tol ?? 1e-9);
}

// Score of the run: right answers of the questions asked so far (answered or revealed).
export function scoreOf(quiz) {
  const asked = new Set([...quiz.revealed, ...Object.keys(quiz.answers)]);
  let right = 0;
  for (const k of asked) if (quiz.answers[k] && quiz.answers[k].correct) right++;
  return { right, asked: asked.size };
}

// The terms of a gradient's hint, from the engine's (unmasked) document: for each use of the node,
// the upstream gate (by its node id), its gradient and the local gradient.
export function gradTerms(doc, sched, id) {
  return sched.outs[id].map((e) => ({ upstream: e.target, index: e.index, grad: doc.nodes[e.target].grad,
    local: doc.nodes[e.target].local_grads[e.index] }));
}

export { isHidden };
