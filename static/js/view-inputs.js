// The inputs panel (a number field and a slider per input, built from the evaluation's
// `inputs`) and the result box. Rows are rebuilt only when the input names change; otherwise
// numbers update in place so a slider being dragged keeps its focus.
import { fmt, fmtFull, raw } from "./format.js";

function sliderRange(v) {
  const c = Number.isFinite(v) ? v : 0;
  const half = Math.max(5, Math.ceil(Math.abs(c)));
  return { min: Math.floor(c - half), max: Math.ceil(c + half), step: half >= 50 ? 1 : half / 100 };
}

function tidy(v) {
  return Number(Number(v).toPrecision(8));
}

export function createInputsView(container, resultBox, { onValue, onSelect }) {
  let names = [];
  const rows = new Map();

  function build(doc) {
    container.replaceChildren();
    rows.clear();
    names = doc.inputs.map((i) => i.name);
    if (!names.length) {
      const p = document.createElement("p");
      p.className = "muted small";
      p.textContent = "This program has no inputs.";
      container.appendChild(p);
    }
    for (const inp of doc.inputs) {
      const row = document.createElement("div");
      row.className = "input-row";
      row.dataset.input = inp.name;
      row.dataset.testid = `input-row-${inp.name}`;
      const name = document.createElement("button");
      name.type = "button";
      name.className = "name btn";
      name.textContent = inp.name;
      name.title = `Select ${inp.name} in the circuit`;
      name.addEventListener("click", () => onSelect(inp.id));
      const controls = document.createElement("div");
      controls.className = "controls";
      const num = document.createElement("input");
      num.type = "number";
      num.step = "any";
      num.dataset.testid = `input-${inp.name}`;
      num.setAttribute("aria-label", `value of ${inp.name}`);
      const slider = document.createElement("input");
      slider.type = "range";
      slider.dataset.testid = `slider-${inp.name}`;
      slider.setAttribute("aria-label", `slider for ${inp.name}`);
      const r = sliderRange(inp.value);
      Object.assign(slider, { min: r.min, max: r.max, step: r.step });
      controls.append(num, slider);
      const grads = document.createElement("div");
      grads.className = "grads";
      const grad = document.createElement("span");
      grad.className = "grad";
      grad.dataset.testid = `grad-${inp.name}`;
      const numeric = document.createElement("span");
      numeric.className = "numeric";
      numeric.dataset.testid = `numeric-${inp.name}`;
      grads.append(grad, numeric);
      row.append(name, controls, grads);
      container.appendChild(row);

      num.addEventListener("input", () => {
        const v = num.valueAsNumber;
        if (!Number.isFinite(v)) return;
        if (v < +slider.min) slider.min = Math.floor(v);
        if (v > +slider.max) slider.max = Math.ceil(v);
        slider.value = String(v);
        onValue(inp.name, v, { live: false });
      });
      slider.addEventListener("input", () => {
        const v = tidy(slider.valueAsNumber);
        num.value = String(v);
        onValue(inp.name, v, { live: true });
      });
      rows.set(inp.name, { row, num, slider, grad, numeric });
    }
  }

  function update(doc, { selected = null, rebuild = false } = {}) {
    const newNames = doc.inputs.map((i) => i.name);
    if (rebuild || newNames.join("\u0000") !== names.join("\u0000")) build(doc);
    const f = doc.output;
    for (const inp of doc.inputs) {
      const r = rows.get(inp.name);
      if (!r) continue;
      if (document.activeElement !== r.num && r.num.valueAsNumber !== inp.value) r.num.value = String(inp.value);
      if (document.activeElement !== r.slider) {
        if (inp.value < +r.slider.min) r.slider.min = Math.floor(inp.value);
        if (inp.value > +r.slider.max) r.slider.max = Math.ceil(inp.value);
        r.slider.value = String(inp.value);
      }
      const g = doc.gradients[inp.name];
      r.grad.textContent = `∂${f}/∂${inp.name} = ${fmt(g, 6)}`;
      r.grad.dataset.value = raw(g);
      r.grad.title = fmtFull(g);
      const nc = doc.numeric && doc.numeric.inputs ? doc.numeric.inputs[inp.name] : null;
      if (nc) {
        r.numeric.hidden = false;
        r.numeric.textContent = `numeric ${fmt(nc.numeric, 6)} · rel. error ${Number(nc.rel_error).toExponential(1)}${nc.ok ? " ✓" : " ✗"}`;
        r.numeric.title = nc.note || "";
        r.numeric.classList.toggle("bad", !nc.ok);
        r.numeric.dataset.value = raw(nc.numeric);
        r.numeric.dataset.relError = String(nc.rel_error);
      } else {
        r.numeric.hidden = true;
        r.numeric.textContent = "";
      }
      r.row.classList.toggle("selected", selected === inp.id);
    }

    // Result box
    resultBox.replaceChildren();
    const out = document.createElement("div");
    const label = document.createElement("span");
    label.textContent = `${f} = `;
    const v = document.createElement("span");
    v.className = "out";
    v.dataset.testid = "output-value";
    v.dataset.value = raw(doc.value);
    v.textContent = fmt(doc.value, 10);
    v.title = fmtFull(doc.value);
    out.append(label, v);
    resultBox.appendChild(out);
    if (doc.numeric) {
      const s = document.createElement("div");
      s.className = `numeric-summary ${doc.numeric.ok ? "ok" : "bad"}`;
      s.dataset.testid = "numeric-summary";
      s.textContent = doc.numeric.ok
        ? `numerical check passed (h = ${doc.numeric.h}, tolerance ${doc.numeric.tolerance})`
        : `numerical check: some gradients disagree (h = ${doc.numeric.h})`;
      resultBox.appendChild(s);
    }
    if (doc.warnings && doc.warnings.length) {
      const ul = document.createElement("ul");
      ul.className = "warnings";
      ul.dataset.testid = "warnings";
      for (const w of doc.warnings) {
        const li = document.createElement("li");
        li.textContent = w;
        ul.appendChild(li);
      }
      resultBox.appendChild(ul);
    }
  }

  return { update };
}
