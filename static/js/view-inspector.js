// The inspector for the selected node: op, formula (KaTeX), value, gradient, local gradients,
// the chain-rule line and the gate's rule in words (from /api/v1/ops).
import { fmt, fmtFull, raw } from "./format.js";
import { chainRule, formulaLatex, latexName, localGradLatex, nodeName } from "./schedule.js";

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

function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "testid") e.dataset.testid = v;
    else e.setAttribute(k, v);
  }
  if (text !== null) e.textContent = text;
  return e;
}

export function renderInspector(container, doc, sched, ops, id) {
  container.replaceChildren();
  if (!doc || id === null || id === undefined || !doc.nodes[id]) {
    container.appendChild(el("p", { class: "muted" },
      "Click a node in the circuit (or an input's name) to see its formula, local gradients and the chain rule."));
    return;
  }
  const n = doc.nodes[id];
  const meta = ops.get(n.op);
  const name = nodeName(doc, id);
  const f = doc.output;
  container.dataset.nodeId = String(id);

  const title = el("h3", { testid: "inspector-name" }, name);
  container.appendChild(title);
  const kind = n.op === "input" ? "input" : n.op === "const" ? "constant" : `${n.op} gate`;
  const desc = meta ? `${kind} · ${meta.description}` : kind;
  container.appendChild(el("div", { class: "op-desc", testid: "inspector-op" }, desc));

  if (meta) {
    const formula = el("div", { class: "formula", testid: "inspector-formula" });
    tex(formula, `${latexName(name)} = ${formulaLatex(doc, id, ops)}`, true);
    container.appendChild(formula);
  }

  const dl = el("dl");
  dl.append(el("dt", {}, "value"));
  dl.append(el("dd", { class: "v", testid: "inspector-value", "data-value": raw(n.value) }, fmtFull(n.value)));
  dl.append(el("dt", {}, `∂${f}/∂${name}`));
  dl.append(el("dd", { class: "g", testid: "inspector-grad", "data-value": raw(n.grad) }, fmtFull(n.grad)));
  if (!n.on_path) {
    dl.append(el("dt", {}, "path"));
    dl.append(el("dd", {}, `does not reach ${f}`));
  }
  container.appendChild(dl);
  if (n.reason) container.appendChild(el("div", { class: "reason", testid: "inspector-reason" }, `⚠ ${n.reason}`));

  if (n.operands.length) {
    container.appendChild(el("div", { class: "muted small" }, "local gradients → gradient sent back on each edge"));
    const table = el("table", { testid: "inspector-local-grads" });
    n.operands.forEach((src, i) => {
      const tr = el("tr");
      const cell = el("td");
      const lg = localGradLatex(doc, id, ops, i);
      tex(cell, `\\frac{\\partial ${latexName(name)}}{\\partial ${latexName(nodeName(doc, src))}} = ${lg ?? "?"}`);
      tr.append(cell);
      tr.append(el("td", { class: "num" }, `= ${fmt(n.local_grads[i], 6)}`));
      const sent = sched.edges.find((e) => e.target === id && e.index === i);
      tr.append(el("td", { class: "num g" }, `→ ${fmt(sent ? sent.grad : NaN, 6)}`));
      table.appendChild(tr);
    });
    container.appendChild(table);
  }

  container.appendChild(el("div", { class: "muted small" }, "chain rule"));
  container.appendChild(el("div", { class: "chain", testid: "inspector-chain" }, chainRule(doc, id, sched.outs)));

  let rule = meta ? meta.rule : null;
  if (n.op === "input") rule = "an input's gradient is the sum of the gradients on its out-edges";
  if (n.op === "const") rule = "a constant has a gradient too, but nothing moves it";
  if (rule) container.appendChild(el("div", { class: "rule", testid: "inspector-rule" }, rule));
}
