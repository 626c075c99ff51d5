// The inspector for the selected node: op, formula (KaTeX), value, gradient, local gradients,
// the chain-rule line and the gate's rule in words (from /api/v1/ops).
import { el } from "./dom.js";
import { fmt, fmtFull, isHidden, raw } from "./format.js";
import { chainRule, formulaLatex, latexName, localGradLatex, nodeName, opText, wrapName } from "./schedule.js";
import { reasonText } from "./engine-text.js";
import { t } from "./strings.js";
import { at, fmtShape, fmtT, gridDims, heatColor, isSummary, isTensorNode, isTensorValue, rawT, stats } from "./tensor.js";

const CLIP = 6; // rows and columns shown in the inspector's tables

// A tensor as a small table, cells tinted by the diverging scale; clipped to CLIP x CLIP with "…".
function tensorTable(v, shape, testid) {
  if (isSummary(v)) {
    return el("div", { class: "num", testid }, fmtT(v));
  }
  const table = el("table", { class: "tensor-table", testid, "data-value": rawT(v) });
  const [R, C] = gridDims(shape);
  const m = stats(v).absmax;
  const rows = Math.min(R, CLIP), cols = Math.min(C, CLIP);
  for (let r = 0; r < rows; r++) {
    const tr = el("tr");
    for (let c = 0; c < cols; c++) {
      const x = at(v, shape, r, c);
      const td = el("td", { title: fmtFull(x) }, fmt(x, 4));
      td.style.backgroundColor = heatColor(x, m * 1.6); // lighter than the circuit so text stays legible
      tr.appendChild(td);
    }
    if (C > cols) tr.appendChild(el("td", { class: "more" }, "…"));
    table.appendChild(tr);
  }
  if (R > rows) {
    const tr = el("tr");
    tr.appendChild(el("td", { class: "more", colspan: String(cols + (C > cols ? 1 : 0)) }, t("inspector.more_rows", { count: R - rows })));
    table.appendChild(tr);
  }
  return table;
}

function tex(el, src, display = false) {
  const katex = globalThis.katex;
  if (katex && src) {
    try {
      katex.render(src, el, { throwOnError: false, displayMode: display, output: "html" });
      return el;
    } catch {
      /* fall through to plain text */
    }
  }
  el.textContent = src || "";
  return el;
}


export function renderInspector(container, doc, sched, ops, id, { folds = null, onFold = null, onUnfold = null } = {}) {
  container.replaceChildren();
  if (!doc || id === null || id === undefined || !doc.nodes[id]) {
    delete container.dataset.nodeId;
    container.appendChild(el("p", { class: "muted" }, t("inspector.empty")));
    return;
  }
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  const name = nodeName(doc, id);
  const f = doc.output;
  container.dataset.nodeId = String(id);

  const title = el("h3", { testid: "inspector-name" }, name);
  container.appendChild(title);
  // a folded grad() layer stands for the derivative it computes, not for the gate that happens to hold
  // its value last: the call, what it means and its value
  const layer = folds && folds.folded && folds.folded.kind === "adjoint" ? gradCall(doc, folds.folded) : null;
  const kind = n.op === "input" ? t("inspector.kind_input") : n.op === "const" ? t("inspector.kind_constant") : t("inspector.kind_gate", { op: n.op });
  const ownGate = !meta && (doc.functions || []).some((fn) => fn.kind === "gate" && fn.name === n.op);
  const desc = layer ? t("inspector.kind_grad") : meta ? `${kind} · ${opText(n.op, "description", meta.description)}`
    : ownGate ? t("inspector.kind_user_gate", { op: n.op }) : kind;
  container.appendChild(el("div", { class: "op-desc", testid: "inspector-op" }, desc));
  if (folds) foldButtons(container, folds, onFold, onUnfold);

  if (layer) {
    renderGradBox(container, doc, sched, n, name, layer);
    return;
  }
  const call = folds && folds.folded && folds.folded.kind === "call" ? callOf(doc, folds.folded) : null;
  if (call) {
    renderCallBox(container, doc, n, name, call);
    return;
  }

  if (meta) {
    const formula = el("div", { class: "formula", testid: "inspector-formula" });
    tex(formula, `${latexName(name)} = ${formulaLatex(doc, id, ops)}`, true);
    container.appendChild(formula);
  }
  // a gate the program defined (`softplus(t) = log(1 + exp(t)) with d/dt = sigmoid(t)`): its body and
  // declared derivatives, in the operands' names
  const own = meta ? null : userGate(doc, n);
  if (own) {
    const formula = el("div", { class: "formula", testid: "inspector-formula" });
    tex(formula, `${latexName(name)} = ${texText(n.op)}(${own.args.map(latexName).join(", ")}) = ${texText(own.body)}`, true);
    container.appendChild(formula);
  }

  if (meta && meta.matrix_rule && doc.mode === "tensor") {
    container.appendChild(el("div", { class: "muted small" }, t("inspector.matrix_rule")));
    container.appendChild(el("div", { class: "matrix-rule", testid: "inspector-matrix-rule" }, opText(n.op, "matrix_rule", meta.matrix_rule)));
  }

  if (isTensorNode(n) || (doc.mode === "tensor" && n.operands.some((o) => isTensorNode(doc.nodes[o])))) {
    renderTensorNode(container, doc, sched, ops, id);
    return;
  }

  const dl = el("dl");
  valueRows(dl, n, f, name);
  container.appendChild(dl);
  if (n.reason) container.appendChild(el("div", { class: "reason", testid: "inspector-reason" }, `⚠ ${reasonText(n.reason, doc, nodeName)}`));

  if (n.operands.length) {
    container.appendChild(el("div", { class: "muted small" }, t("inspector.local_grads")));
    const table = el("table", { testid: "inspector-local-grads" });
    n.operands.forEach((src, i) => {
      const tr = el("tr");
      const cell = el("td");
      const lg = own ? (own.derivs[i] === null ? null : texText(own.derivs[i])) : localGradLatex(doc, id, ops, i);
      tex(cell, `\\frac{\\partial ${latexName(name)}}{\\partial ${latexName(nodeName(doc, src))}} = ${lg ?? "?"}`);
      if (own) cell.dataset.formula = own.derivs[i] ?? "";
      tr.append(cell);
      const lgv = n.local_grads[i];
      const constant = lgv === null || lgv === undefined; // an operand that is a constant: not differentiated
      tr.append(el("td", { class: "num" }, constant ? "" : `= ${fmt(lgv, 6)}`));
      const sent = sched.edges.find((e) => e.target === id && e.index === i);
      tr.append(el("td", { class: "num g" }, constant || !sent || sent.grad === null ? `→ ${t("inspector.none_constant")}` : `→ ${fmt(sent.grad, 6)}`));
      table.appendChild(tr);
    });
    container.appendChild(table);
  }

  chainAndRule(container, doc, sched, meta, n, id, t("inspector.input_rule"));
  if (own) container.appendChild(el("div", { class: "rule", testid: "inspector-rule" }, t("inspector.user_gate_rule", { op: n.op })));
}

// The call a folded call box stands for: {text: "sq(x)", fn, body: "x · x + 1"} (the function's body
// with the call's arguments for its parameters), from the document's group and functions.
export function callOf(doc, folded) {
  const g = (doc.groups || []).find((gr) => gr.kind === "call" && gr.last === folded.head) || null;
  const fn = g && (doc.functions || []).find((f) => f.name === g.name);
  if (!g || !fn) return null;
  const m = /^[^(]*\(([\s\S]*)\)$/.exec(g.text);
  const args = [];
  if (m) {
    let depth = 0, cur = "";
    for (const c of m[1]) {
      if (c === "," && depth === 0) {
        args.push(cur.trim());
        cur = "";
        continue;
      }
      if (c === "(" || c === "[") depth++;
      else if (c === ")" || c === "]") depth--;
      cur += c;
    }
    if (cur.trim()) args.push(cur.trim());
  }
  if (args.length !== fn.params.length) return { text: g.text, fn, body: null };
  return { text: g.text, fn, body: putArgs(fn.body, new Map(fn.params.map((p, i) => [p, args[i]]))) };
}

function renderCallBox(container, doc, n, name, call) {
  container.querySelector("[data-testid=inspector-op]").textContent = t("inspector.kind_call", { name: call.fn.name });
  const formula = el("div", { class: "formula", testid: "inspector-formula" });
  const lhs = n.label ? `${latexName(name)} = ` : "";
  tex(formula, `${lhs}${texText(call.text)}${call.body ? ` = ${texText(call.body)}` : ""}`, true);
  formula.dataset.call = call.text;
  container.appendChild(formula);
  const dl = el("dl");
  if (isTensorNode(n)) {
    dl.append(el("dt", {}, t("inspector.shape")), el("dd", { testid: "inspector-shape" }, fmtShape(n.shape)));
    valueRows(dl, n, doc.output, name, false);
  } else {
    valueRows(dl, n, doc.output, name);
  }
  container.appendChild(dl);
  if (n.reason) container.appendChild(el("div", { class: "reason", testid: "inspector-reason" }, `⚠ ${reasonText(n.reason, doc, nodeName)}`));
  container.appendChild(el("div", { class: "rule", testid: "inspector-rule" }, t("inspector.call_rule", { call: call.text, name: call.fn.name })));
}

// Program text with names replaced (whole names, not calls), products written with "·".
function putArgs(text, names) {
  return text.replace(/[\p{L}_][\p{L}\p{N}_]*/gu, (w, at, all) =>
    (names.has(w) && all[at + w.length] !== "(" ? wrapName(names.get(w)) : w)).replace(/\s*\*\s*/g, " · ");
}

// The program's own gate that node n applies ({body, derivs} with the operands' names for the
// parameters: derivs[i] is the declared d/d(param i), null when none was declared), else null.
export function userGate(doc, n) {
  const fn = (doc.functions || []).find((f) => f.kind === "gate" && f.name === n.op);
  if (!fn || fn.params.length !== n.operands.length) return null;
  const args = n.operands.map((s) => nodeName(doc, s));
  const names = new Map(fn.params.map((p, i) => [p, args[i]]));
  const put = (text) => putArgs(text, names);
  const derivs = fn.params.map((p) => (fn.derivatives && fn.derivatives[p] ? put(fn.derivatives[p]) : null));
  return { body: put(fn.body), derivs, args };
}

// Plain text (a program's expression) inside KaTeX.
function texText(s) {
  return `\\text{${String(s).replace(/[\\{}$&#%_^~]/g, (c) => `\\${c === "\\" ? "textbackslash " : c === "^" ? "textasciicircum " : c === "~" ? "textasciitilde " : c}`)}}`;
}

/** The value and gradient rows (when `numbers`), and a note when the node does not reach the output. */
function valueRows(dl, n, f, name, numbers = true) {
  if (numbers) {
    dl.append(el("dt", {}, t("inspector.value")));
    dl.append(el("dd", { class: "v", testid: "inspector-value", "data-value": raw(n.value) }, fmtFull(n.value)));
    dl.append(el("dt", {}, `∂${f}/∂${wrapName(name)}`));
    const g = n.grad === null || n.grad === undefined ? t("inspector.no_gradient") : fmtFull(n.grad);
    dl.append(el("dd", { class: "g", testid: "inspector-grad", "data-value": raw(n.grad) }, g));
  }
  if (!n.on_path) {
    dl.append(el("dt", {}, t("inspector.path")));
    dl.append(el("dd", {}, t("inspector.not_on_path", { output: f })));
  }
}

/** The chain-rule line and the gate's rule in words (scalar and tensor nodes alike). */
function chainAndRule(container, doc, sched, meta, n, id, inputRule) {
  container.appendChild(el("div", { class: "muted small" }, t("inspector.chain_rule")));
  container.appendChild(el("div", { class: "chain", testid: "inspector-chain" }, chainRule(doc, id, sched.outs)));
  let rule = meta ? opText(n.op, "rule", meta.rule) : null;
  if (n.op === "input") rule = inputRule;
  if (n.op === "const") rule = t("inspector.constant_rule");
  if (rule) container.appendChild(el("div", { class: "rule", testid: "inspector-rule" }, rule));
}

// A tensor node: shape, value and gradient tables, the gradient each operand edge carries back,
// the chain rule and the gate's rule in words.
function renderTensorNode(container, doc, sched, ops, id) {
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  const name = nodeName(doc, id);
  const f = doc.output;
  const dl = el("dl");
  dl.append(el("dt", {}, t("inspector.shape")));
  dl.append(el("dd", { testid: "inspector-shape" }, fmtShape(n.shape)));
  // a scalar made from tensors (a loss, a sum) gets full-precision numbers as in scalar mode
  valueRows(dl, n, f, name, !isTensorNode(n));
  container.appendChild(dl);
  const cap = (cls, label, rest) => {
    const d = el("div", { class: `tensor-caption ${cls}` });
    d.append(el("b", {}, label), document.createTextNode(rest));
    return d;
  };
  if (isTensorNode(n)) {
    container.appendChild(cap("v", t("inspector.value"), ` ${fmtShape(n.shape)}`));
    container.appendChild(isHidden(n.value) ? el("div", { class: "num hidden-num", testid: "inspector-value" }, "?")
      : tensorTable(n.value, n.shape, "inspector-value"));
    if (isHidden(n.grad)) {
      container.appendChild(cap("g", `∂${f}/∂${wrapName(name)}`, ` ${fmtShape(n.shape)}`));
      container.appendChild(el("div", { class: "num hidden-num", testid: "inspector-grad" }, "?"));
    } else if (n.grad !== null && n.grad !== undefined) {
      container.appendChild(cap("g", `∂${f}/∂${wrapName(name)}`, ` ${fmtShape(n.shape)}`));
      container.appendChild(tensorTable(n.grad, n.shape, "inspector-grad"));
    } else {
      container.appendChild(el("div", { class: "muted small" }, t("inspector.no_gradient")));
    }
  }
  if (n.reason) container.appendChild(el("div", { class: "reason", testid: "inspector-reason" }, `⚠ ${reasonText(n.reason, doc, nodeName)}`));

  if (n.operands.length) {
    container.appendChild(el("div", { class: "muted small" }, t("inspector.local_rule")));
    const table = el("table", { testid: "inspector-local-grads" });
    n.operands.forEach((src, i) => {
      const tr = el("tr");
      const cell = el("td");
      const lg = localGradLatex(doc, id, ops, i);
      const srcName = nodeName(doc, src);
      tex(cell, `\\frac{\\partial ${latexName(name)}}{\\partial ${latexName(srcName)}} : ${lg ?? "?"}`);
      tr.append(cell);
      const g = n.edge_grads ? n.edge_grads[i] : null;
      const sent = g === null || g === undefined ? t("inspector.none_constant") : isHidden(g) ? "?"
        : isTensorValue(g) ? `${fmtShape(doc.nodes[src].shape)}, ‖g‖ ${fmt(stats(g).norm, 4)}` : fmt(g, 6);
      tr.append(el("td", { class: "num g" }, `→ ${sent}`));
      table.appendChild(tr);
    });
    container.appendChild(table);
  }

  chainAndRule(container, doc, sched, meta, n, id, t("inspector.input_rule_tensor"));
}

// The call a folded adjoint box stands for: {text: "grad(f, x)", f: "f" (an expression in parentheses),
// x: "x"} from the document's group (its full text, not the box's shortened title).
export function gradCall(doc, folded) {
  const g = (doc.groups || []).find((gr) => gr.kind === "adjoint" && gr.last === folded.head) || null;
  const text = g ? g.text : folded.title;
  const m = /^grad\(([\s\S]*),\s*([\p{L}_][\p{L}\p{N}_]*)\s*\)$/u.exec(text || "");
  if (!m) return null;
  const f = m[1].replace(/\s+/g, " ").trim();
  return { text, f: wrapName(f), x: m[2] };
}

function renderGradBox(container, doc, sched, n, name, call) {
  const formula = el("div", { class: "formula", testid: "inspector-formula" });
  const f = latexName(call.f.replace(/^\((.*)\)$/, "$1"));
  tex(formula, `${latexName(name)} = \\operatorname{grad}(${f}, ${latexName(call.x)}) = \\frac{\\partial ${f}}{\\partial ${latexName(call.x)}}`, true);
  formula.dataset.call = call.text;
  container.appendChild(formula);
  const value = isTensorNode(n) ? fmtShape(n.shape) : fmtFull(n.value);
  container.appendChild(el("div", { class: "grad-meaning", testid: "inspector-grad-meaning" },
    t("inspector.grad_meaning", { call: call.text, f: call.f, x: call.x, value })));
  if (isTensorNode(n)) {
    const dl = el("dl");
    dl.append(el("dt", {}, t("inspector.shape")), el("dd", { testid: "inspector-shape" }, fmtShape(n.shape)));
    valueRows(dl, n, doc.output, name, false);
    container.appendChild(dl);
    container.appendChild(isHidden(n.value) ? el("div", { class: "num hidden-num", testid: "inspector-value" }, "?")
      : tensorTable(n.value, n.shape, "inspector-value"));
  } else {
    const dl = el("dl");
    valueRows(dl, n, doc.output, name);
    container.appendChild(dl);
  }
  if (n.reason) container.appendChild(el("div", { class: "reason", testid: "inspector-reason" }, `⚠ ${reasonText(n.reason, doc, nodeName)}`));
  container.appendChild(el("div", { class: "rule", testid: "inspector-rule" }, t("inspector.grad_rule", { call: call.text, f: call.f, x: call.x })));
}

// Fold the node's statement or sub-expression into one box, or unfold the box it is drawn in.
function foldButtons(container, folds, onFold, onUnfold) {
  const row = el("div", { class: "fold-row" });
  const btn = (label, testid, title, fn) => {
    const b = el("button", { class: "btn small-btn", type: "button", testid, title }, label);
    b.addEventListener("click", fn);
    row.appendChild(b);
  };
  if (folds.folded) {
    btn(t("fold.unfold"), "unfold", folds.folded.title, () => onUnfold && onUnfold(folds.folded.key));
    const note = folds.folded.kind === "adjoint" ? "fold.folded_adjoint" : "fold.folded";
    row.appendChild(el("span", { class: "muted small", testid: "folded-note" },
      t(note, { title: folds.folded.title, count: folds.folded.members.length })));
  } else {
    if (folds.call) btn(t("fold.call"), "fold-call", folds.call.title, () => onFold && onFold(folds.call.key));
    if (folds.adjoint) btn(t("fold.adjoint"), "fold-adjoint", folds.adjoint.title, () => onFold && onFold(folds.adjoint.key));
    if (folds.statement) btn(t("fold.statement"), "fold-statement", folds.statement.title, () => onFold && onFold(folds.statement.key));
    if (folds.expression) btn(t("fold.expression"), "fold-expression", folds.expression.title, () => onFold && onFold(folds.expression.key));
  }
  if (row.childNodes.length) container.appendChild(row);
}
