// The animation schedule and the per-edge numbers, built from the engine's topological node
// list (doc.nodes is already in topological order; JS never computes a second ordering). No DOM.
import { fmt, fmtAscii, HIDDEN } from "./format.js";
import { adjointNodesOf, sourceText } from "./groups.js";
import { reasonText } from "./engine-text.js";
import { t } from "./strings.js";
import { fmtShape, fmtT, isTensorNode } from "./tensor.js";

export function edgeId(target, index) {
  return `e${target}_${index}`;
}

// What the page calls a node, everywhere (circuit, captions, inspector, quiz): its label; a constant
// by its number; an unnamed gate by its sub-expression as written (`w0·x0`, long ones elided in the
// middle: `w0·x0 … + w2`). Never a hidden id (`n5`) unless the program text is unknown.
// A gate grad() wrote (an adjoint node) has the span of the expression it differentiates, whose text is
// not what it computes (the derivative of x^3 is made of 3, x^2 and 2·x, each spanning "x^3"): it is named
// by its own operation on its operands' names instead (`2·x`, `3·(x^2)`).
export function nodeName(doc, id) {
  const n = doc.nodes[id];
  if (n.label) return n.label;
  if (n.op === "const") return isTensorNode(n) ? `c${id}` : fmtAscii(n.value);
  if (adjointOf(doc).has(id)) return shortExpression(ownExpression(doc, id, 2));
  const src = sourceText(doc.program, n.span);
  return src ? shortExpression(src) : `n${id}`;
}

const ADJOINT = new WeakMap(); // doc -> the ids of its adjoint nodes (nodeName is called per node and edge)
function adjointOf(doc) {
  let ids = ADJOINT.get(doc);
  if (!ids) ADJOINT.set(doc, (ids = adjointNodesOf(doc)));
  return ids;
}

const INFIX = { add: " + ", sub: " - ", mul: "·", div: "/", pow: "^" };
// A node as its operation on its operands, `depth` levels of unnamed gates deep (then "…").
function ownExpression(doc, id, depth) {
  const n = doc.nodes[id];
  if (n.label || n.op === "const" || n.op === "input") return nodeName(doc, id);
  if (depth <= 0) return "…";
  // a named operand as wrapName writes it inside an expression (x, 2, (∂f/∂x)); an unnamed one in parentheses
  const args = n.operands.map((k) => wrapName(ownExpression(doc, k, depth - 1)));
  if (INFIX[n.op] && args.length === 2) return args.join(INFIX[n.op]);
  if (n.op === "neg" && args.length === 1) return `-${args[0]}`;
  return `${n.op}(${args.join(", ")})`;
}

export const NAME_MAX = 14;
export function shortExpression(src, max = NAME_MAX) {
  const s = src.replace(/\*\*/g, "^").replace(/\s*\*\s*/g, "·");
  const chars = [...s];
  if (chars.length <= max) return s;
  const words = s.split(" ");
  if (words.length >= 3) {
    let head = words[0], tail = words[words.length - 1];
    for (let i = 1, j = words.length - 2; i < j; ) {
      const grown = `${head} ${words[i]}`;
      if ([...grown].length > max / 2) break;
      head = grown;
      i++;
    }
    if (words.length >= 4 && [...`${words[words.length - 2]} ${tail}`].length <= max / 2) tail = `${words[words.length - 2]} ${tail}`;
    if ([...head].length <= max && [...tail].length <= max) return `${head} … ${tail}`;
  }
  const k = Math.floor((max - 1) / 2);
  return `${chars.slice(0, k).join("")}…${chars.slice(chars.length - k).join("")}`;
}

// A name as it reads inside ∂f/∂name: sub-expressions in parentheses.
export function wrapName(name) {
  return /^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) || /^-?[\d.]+(e[-+]?\d+)?$/.test(name) ? name : `(${name})`;
}

function mulGrad(g, lg) {
  if (g === HIDDEN || lg === HIDDEN) return HIDDEN; // quiz mode: a hidden factor hides the product
  // 0 * anything finite is 0; keep NaN/inf visible otherwise
  if (g === 0 && Number.isFinite(lg)) return 0;
  return g * lg;
}

// Every edge: operand `index` of node `target` comes from `source`. Forward it carries the
// source's value; backward it carries target.grad * target.local_grads[index] (in tensor mode the
// engine's edge_grads[index], already summed back to the operand's shape).
export function edgesOf(doc) {
  const edges = [];
  for (const n of doc.nodes) {
    n.operands.forEach((src, i) => {
      const s = doc.nodes[src];
      edges.push({
        id: edgeId(n.id, i), source: src, target: n.id, index: i,
        value: s.value,
        local: n.local_grads[i],
        // (an edge from a constant carries no gradient: constants are not differentiated)
        grad: n.edge_grads ? n.edge_grads[i] : n.local_grads[i] === null || n.local_grads[i] === undefined ? null
          : mulGrad(n.grad, n.local_grads[i]),
        shape: s.shape || [],
        tensor: isTensorNode(s),
      });
    });
  }
  return edges;
}

// Out-edges per node (a node used twice by one gate, as in x*x, has two).
export function outEdges(doc, edges = edgesOf(doc)) {
  const out = doc.nodes.map(() => []);
  for (const e of edges) out[e.source].push(e);
  return out;
}

// "3 + 3 = 6" for a node whose gradient is the sum of several out-edges, else null.
export function forkSum(doc, id, outs, { full = false } = {}) {
  const es = outs[id];
  if (!es || es.length < 2) return null;
  const g = doc.nodes[id].grad;
  if (g === null || g === undefined) return null; // a constant used twice: no gradients to add
  if (isTensorNode(doc.nodes[id])) return t("circuit.fork_tensor", { count: es.length });
  // more than three terms: the sum's size and result (the inspector and the caption list them all)
  if (es.length > 3 && !full) return t("circuit.fork_many", { count: es.length, value: fmt(doc.nodes[id].grad) });
  const terms = es.map((e) => fmt(e.grad)).join(" + ").replace(/\+ −/g, "− ");
  return `${terms} = ${fmt(doc.nodes[id].grad)}`;
}

function substitute(template, names) {
  // replace the metadata's operand letters a, b with the operands' names
  // (and the matrix letters A, B of the tensor ops: matmul's "A B", "\bar{Y} B^{\top}");
  // a name that wrapName put in parentheses loses them where the template has its own: sigmoid(a)
  // reads sigmoid(w0·x0 + w2), not sigmoid((w0·x0 + w2))
  const bare = (n) => (/^\(.*\)$/.test(n) && wrapName(n.slice(1, -1)) === n ? n.slice(1, -1) : n);
  return template.replace(/(\()?(?<![\\A-Za-z_])([abAB])(?![A-Za-z_0-9])(\))?/g, (m, open, v, close) => {
    const n = v === "a" || v === "A" ? names[0] : names[1];
    if (n === undefined) return m;
    return open && close ? `(${bare(n)})` : `${open ?? ""}${n}${close ?? ""}`;
  });
}

// A gate's formula in the page's language with the operand letters a, b; a usage line with
// alternatives ("sum(x) or sum(x, axis)") is its first form, its x the first operand.
function gateFormula(op, meta) {
  const f = opText(op, "formula", meta.formula);
  return / or /.test(f) ? f.split(" or ")[0].replace(/(?<![\w])x(?![\w])/, "a") : f;
}

export function formulaText(doc, id, ops) {
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  const names = n.operands.map((s) => wrapName(nodeName(doc, s)));
  if (!meta) return `${n.op}(${names.join(", ")})`;
  return substitute(gateFormula(n.op, meta), names);
}

export function formulaLatex(doc, id, ops) {
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  if (!meta) return null;
  const names = n.operands.map((s) => latexName(nodeName(doc, s)));
  return substitute(meta.latex, names);
}

// The local gradient of gate id with respect to operand i as a formula in the operands' names
// (mul: ∂(q·z)/∂q = "z"); the quiz's hint uses it (a formula, not the number it asks for).
export function localGradText(doc, id, ops, i) {
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  if (!meta || !meta.local_grads || meta.local_grads[i] === undefined) return null;
  return substitute(meta.local_grads[i], n.operands.map((s) => wrapName(nodeName(doc, s))));
}

export function localGradLatex(doc, id, ops, i) {
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  if (!meta || !meta.local_grads_latex) return null;
  const names = n.operands.map((s) => latexName(nodeName(doc, s)));
  return substitute(meta.local_grads_latex[i], names);
}

export function latexName(name) {
  const m = /^([A-Za-z]+)(\d+)$/.exec(name);
  if (m) return `${m[1].length > 1 ? `\\mathit{${m[1]}}` : m[1]}_{${m[2]}}`;
  if (/^[A-Za-z]$/.test(name)) return name;
  if (/^[A-Za-z_][A-Za-z_0-9]*$/.test(name)) return `\\mathit{${name.replace(/_/g, "\\_")}}`;
  if (/^-?[\d.]+(e[-+]?\d+)?$/.test(name)) return `{${name}}`;
  // a sub-expression or a name in another script: as text, in parentheses when it is an expression
  const text = `\\text{${name.replace(/[\\{}$&#%_^~]/g, (c) => `\\${c === "\\" ? "textbackslash " : c === "^" ? "textasciicircum " : c === "~" ? "textasciitilde " : c}`)}}`;
  return /^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) ? text : `\\left(${text}\\right)`;
}

// The chain-rule line for a node, e.g. "df/dx = df/dq * ∂q/∂x = -4 * 1 = -4": d for the output's
// total derivative, ∂ for a gate's local one, so the gate just before the output does not read as
// circular ("df/dq = df/df * ∂f/∂q": the seed 1 times f's local gradient).
export function chainRule(doc, id, outs) {
  const f = doc.output;
  const node = doc.nodes[id];
  const nm = wrapName(nodeName(doc, id));
  if (node.op === "const") return t("chain.constant", { name: nodeName(doc, id) });
  if (id === doc.output_id) return `d${f}/d${f} = 1`;
  const es = outs[id];
  if (!es.length) return `d${f}/d${nm} = 0   ${t("chain.unreached", { name: nm, output: f })}`;
  // each consumer by its own name (its label, or its sub-expression): never the node itself again
  const sym = es.map((e) => {
    const t = wrapName(nodeName(doc, e.target));
    return `d${f}/d${t} * ∂${t}/∂${nm}`;
  }).join(" + ");
  if (doc.mode === "tensor" && (isTensorNode(doc.nodes[id]) || es.some((e) => isTensorNode(doc.nodes[e.target])))) {
    // matrices: name the pieces and their shapes; the inspector lists the numbers
    const pieces = es.map((e) => t("chain.piece", { shape: fmtShape(e.shape), from: nodeName(doc, e.target) })).join(" + ");
    return `d${f}/d${nm} = ${sym}\n       = ${pieces}${es.length > 1 ? ` ${t("chain.summed")}` : ""}`
      + `\n       = ${fmtT(doc.nodes[id].grad, { digits: 4 })}`;
  }
  // tensor mode has no scalar local gradient per edge: the edge carries the engine's edge gradient
  const nums = doc.mode === "tensor" ? es.map((e) => fmtAscii(e.grad)).join(" + ")
    : es.map((e) => `${fmtAscii(doc.nodes[e.target].grad)} * ${fmtAscii(e.local)}`).join(" + ");
  return `d${f}/d${nm} = ${sym} = ${nums} = ${fmtAscii(doc.nodes[id].grad)}`;
}

// One step per node forward (topological order), then one per node backward (reverse order).
// Forward step of node n: n's value is computed and travels out along n's out-edges.
// Backward step of node n: n's gradient is complete (the sum of its out-edges at a fork) and it
// travels back along n's in-edges, each multiplied by the local gradient.
// The output also has a stub edge ("out") carrying its value out and the seed gradient 1 in.
export function buildSchedule(doc, ops) {
  const edges = edgesOf(doc);
  const outs = outEdges(doc, edges);
  const inEdges = doc.nodes.map((n) => n.operands.map((_, i) => edgeId(n.id, i)));
  const steps = [];
  const fwdStep = new Array(doc.nodes.length);
  const bwdStep = new Array(doc.nodes.length);
  for (const n of doc.nodes) {
    fwdStep[n.id] = steps.length;
    const es = outs[n.id].map((e) => e.id);
    if (n.id === doc.output_id) es.push("out");
    steps.push(lazyStep("forward", n.id, es, () => forwardCaption(doc, n.id, ops)));
  }
  const forwardCount = steps.length;
  for (let k = doc.nodes.length - 1; k >= 0; k--) {
    const n = doc.nodes[k];
    bwdStep[n.id] = steps.length;
    const es = n.id === doc.output_id ? ["out", ...inEdges[n.id]] : inEdges[n.id];
    steps.push(lazyStep("backward", n.id, es, () => backwardCaption(doc, n.id, outs, ops)));
  }
  return { steps, forwardCount, fwdStep, bwdStep, edges, outs };
}

// A step's caption is built the first time it is shown (a 20,000-node program has 40,000 steps).
function lazyStep(phase, node, edges, caption) {
  let text = null;
  return {
    phase, node, edges,
    get text() {
      if (text === null) text = caption();
      return text;
    },
  };
}

// Positions where playback "by statement" (or by folded group) stops: 0, the turn from forward to
// backward, the end, and every position where the unit of the next step differs from the last
// one's. unitOf(nodeId) gives a unit key, or null for a node that joins its neighbour's unit
// (inputs and constants join the step after them).
export function unitStops(sched, unitOf) {
  const steps = sched.steps, F = sched.forwardCount, total = steps.length;
  const stops = new Set([0, F, total]);
  for (const [a, b] of [[0, F], [F, total]]) {
    const u = new Array(b - a);
    let next = null;
    for (let s = b - 1; s >= a; s--) {
      const k = unitOf(steps[s].node);
      if (k !== null && k !== undefined) next = k;
      u[s - a] = k ?? next;
    }
    let prev = null;
    for (let i = 0; i < u.length; i++) {
      if (u[i] === null || u[i] === undefined) u[i] = prev;
      else prev = u[i];
    }
    for (let s = a + 1; s < b; s++) if (u[s - a] !== u[s - a - 1]) stops.add(s);
  }
  return Int32Array.from([...stops].sort((x, y) => x - y));
}

// The next stop after `pos` (dir > 0) or before it (dir < 0).
export function nextStop(stops, pos, dir) {
  let lo = 0, hi = stops.length - 1;
  if (dir > 0) {
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (stops[m] > pos) hi = m;
      else lo = m + 1;
    }
    return stops[lo] > pos ? stops[lo] : stops[stops.length - 1];
  }
  while (lo < hi) {
    const m = (lo + hi + 1) >> 1;
    if (stops[m] < pos) lo = m;
    else hi = m - 1;
  }
  return stops[lo] < pos ? stops[lo] : 0;
}

// the gate's rule in the page's language (catalogue op.<name>.rule), else the registry's English
function opRule(op, fallback) {
  return opText(op, "rule", fallback);
}
// a gate's text in the page's language (catalogue op.<name>.<field>: rule, description, formula with
// words in it, matrix_rule), else the registry's English
export function opText(op, field, fallback) {
  const key = `op.${op}.${field}`;
  const s = t(key);
  return s === key ? fallback : s;
}

function paren(s) {
  return s.startsWith("−") ? `(${s})` : s;
}

function forwardCaption(doc, id, ops) {
  const n = doc.nodes[id];
  const nm = nodeName(doc, id);
  if (n.op === "input") return t("caption.input", { name: nm, value: fmtT(n.value) });
  if (n.op === "const") return t("caption.constant", { value: fmtT(n.value) });
  const text = formulaText(doc, id, ops);
  const head = n.label ? `${nm} = ${text}` : text; // an unnamed gate's name is its text already
  let s;
  if (doc.mode === "tensor" && (isTensorNode(n) || n.operands.some((o) => isTensorNode(doc.nodes[o])))) {
    const shapes = n.operands.map((o) => `${nodeName(doc, o)} ${fmtShape(doc.nodes[o].shape)}`).join(", ");
    s = `${head}: ${shapes} → ${isTensorNode(n) ? fmtShape(n.shape) : t("caption.scalar")} = ${fmtT(n.value)}`;
  } else {
    const withValues = substitute(ops.get(n.op) ? gateFormula(n.op, ops.get(n.op)) : text, n.operands.map((o) => paren(fmt(doc.nodes[o].value))));
    s = `${head} = ${withValues} = ${fmt(n.value)}`;
  }
  if (n.reason) s += `  (${reasonText(n.reason, doc, nodeName)})`;
  return s;
}

function backwardCaption(doc, id, outs, ops) {
  const n = doc.nodes[id];
  const f = doc.output;
  const nm = wrapName(nodeName(doc, id));
  if (n.op === "const") return t("caption.constant_backward", { value: fmtT(n.value) });
  let head;
  if (id === doc.output_id) head = t("caption.output_seed", { output: f });
  else {
    const fs = forkSum(doc, id, outs, { full: true });
    head = fs ? `∂${f}/∂${nm} = ${fs} ${t("caption.fork")}` : `∂${f}/∂${nm} = ${fmtT(n.grad)}`;
    if (fs && isTensorNode(n)) head = t("caption.fork_tensor", { output: f, name: nm, sum: fs, value: fmtT(n.grad) });
  }
  if (!n.operands.length) return head;
  if (n.edge_grads) {
    const parts = n.operands.map((o, i) => [o, i]).filter(([o]) => doc.nodes[o].op !== "const")
      .map(([o, i]) => `∂${f}/∂${wrapName(nodeName(doc, o))} ← ${fmtT(n.edge_grads[i])}`);
    const meta = ops.get(n.op);
    const rule = meta ? (meta.matrix_rule ? opText(n.op, "matrix_rule", meta.matrix_rule) : opRule(n.op, meta.rule).split(/[:：]/)[0]) : null;
    return `${head}${parts.length ? `; ${parts.join(", ")}` : ""}${rule ? ` — ${rule}` : ""}`;
  }
  // constants are not differentiated: no gradient goes back to them
  const parts = n.operands.map((s, i) => [s, i]).filter(([s]) => doc.nodes[s].op !== "const").map(([s, i]) => {
    const g = mulGrad(n.grad, n.local_grads[i]);
    return `∂${f}/∂${wrapName(nodeName(doc, s))} ← ${fmt(n.grad)} × ${paren(fmt(n.local_grads[i]))} = ${fmt(g)}`;
  });
  const rule = ops.get(n.op) ? opRule(n.op, ops.get(n.op).rule) : null;
  return `${head}${parts.length ? `; ${parts.join(", ")}` : ""}${rule ? ` — ${rule.split(/[:：]/)[0]}` : ""}`;
}

// What is visible at animation position pos (0 = nothing computed, steps.length = everything).
// An edge's value shows once its source's forward step ran; its gradient once its target's
// backward step ran.
export function isValueShown(sched, id, pos) {
  return sched.fwdStep[id] < pos;
}
export function isGradShown(sched, id, pos) {
  return sched.bwdStep[id] < pos;
}
