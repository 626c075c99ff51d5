// The inputs panel (a number field and a slider per input, built from the evaluation's
// `inputs`) and the result box. Rows are rebuilt only when the input names change; otherwise
// numbers update in place so a slider being dragged keeps its focus. A tensor input gets its
// nested list as editable text (one matrix row per line) instead of a slider.
import { fmt, fmtFull, raw } from "./format.js";
import { noteText, warningText } from "./engine-text.js";
import { nodeName } from "./schedule.js";
import { t } from "./strings.js";
import { fmtShape, fmtT, isSummary, isTensorValue, parseTensorText, rawT, shapeText, toEditText } from "./tensor.js";

// a relative error as 1.2e-7 (∞ and NaN as the page writes them, not "Infinity")
const relError = (v) => (Number.isFinite(Number(v)) ? Number(v).toExponential(1) : fmt(Number(v)));

function sliderRange(v) {
  const c = Number.isFinite(v) ? v : 0;
  const half = Math.max(5, Math.ceil(Math.abs(c)));
  return { min: Math.floor(c - half), max: Math.ceil(c + half), step: half >= 50 ? 1 : half / 100 };
}

function tidy(v) {
  return Number(Number(v).toPrecision(8));
}

function rowKey(i) {
  return `${i.name}:${(i.shape || []).length ? "t" : "s"}`;
}

export function createInputsView(container, resultBox, { onValue, onSelect, onReset = () => {} }) {
  let names = [];
  const rows = new Map();

  function tensorRow(inp, row, name) {
    const badge = document.createElement("span");
    badge.className = "shape-badge";
    badge.dataset.testid = `shape-${inp.name}`;
    const head = document.createElement("div");
    head.className = "controls";
    head.append(badge);
    const edit = document.createElement("div");
    edit.className = "tensor-edit";
    const text = document.createElement("textarea");
    text.className = "tensor-text";
    text.spellcheck = false;
    text.wrap = "off";
    text.dataset.testid = `input-${inp.name}`;
    text.setAttribute("aria-label", t("inputs.tensor_aria", { name: inp.name }));
    const msg = document.createElement("div");
    msg.className = "tensor-msg";
    const note = document.createElement("span");
    const reset = document.createElement("button");
    reset.type = "button";
    reset.className = "btn";
    reset.textContent = t("inputs.reset");
    reset.title = t("inputs.reset_title");
    reset.hidden = true;
    msg.append(note, reset);
    edit.append(text, msg);
    const { grads, grad, numeric } = gradSlots(inp.name, "grad tensor");
    const detail = document.createElement("details");
    detail.className = "numeric-detail";
    detail.hidden = true;
    row.append(name, head, edit, grads, detail);
    let timer = null;
    text.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const r = parseTensorText(text.value);
        text.classList.toggle("invalid", !!r.error);
        msg.classList.toggle("bad", !!r.error);
        if (r.error) {
          note.textContent = t(r.error);
          return;
        }
        note.textContent = "";
        onValue(inp.name, r.value, { live: false });
      }, 300);
    });
    reset.addEventListener("click", () => onReset(inp.name));
    return { row, text, badge, note, msg, reset, grad, numeric, detail, tensor: true, shown: null };
  }

  function build(doc) {
    container.replaceChildren();
    rows.clear();
    names = doc.inputs.map(rowKey);
    if (!names.length) {
      const p = document.createElement("p");
      p.className = "muted small";
      p.textContent = t("inputs.none");
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
      name.title = t("inputs.select", { name: inp.name });
      name.addEventListener("click", () => onSelect(inp.id));
      if ((inp.shape || []).length) {
        row.classList.add("tensor");
        container.appendChild(row);
        rows.set(inp.name, tensorRow(inp, row, name));
        continue;
      }
      const controls = document.createElement("div");
      controls.className = "controls";
      const num = document.createElement("input");
      num.type = "number";
      num.step = "any";
      num.dataset.testid = `input-${inp.name}`;
      num.setAttribute("aria-label", t("inputs.value_aria", { name: inp.name }));
      const slider = document.createElement("input");
      slider.type = "range";
      slider.dataset.testid = `slider-${inp.name}`;
      slider.setAttribute("aria-label", t("inputs.slider_aria", { name: inp.name }));
      const r = sliderRange(inp.value);
      Object.assign(slider, { min: r.min, max: r.max, step: r.step });
      controls.append(num, slider);
      const { grads, grad, numeric } = gradSlots(inp.name, "grad");
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
    const newNames = doc.inputs.map(rowKey);
    if (rebuild || newNames.join("\u0000") !== names.join("\u0000")) build(doc);
    const f = doc.output;
    for (const inp of doc.inputs) {
      const r = rows.get(inp.name);
      if (!r) continue;
      if (r.tensor) {
        updateTensorRow(r, inp, doc, f);
        r.row.classList.toggle("selected", selected === inp.id);
        continue;
      }
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
        r.numeric.textContent = t("inputs.numeric", { numeric: fmt(nc.numeric, 6), error: relError(nc.rel_error) }) + (nc.ok ? " ✓" : " ✗");
        r.numeric.title = noteText(nc.note, doc, nodeName) || "";
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
    if (isTensorValue(doc.value)) {
      v.classList.add("tensor");
      v.dataset.value = rawT(doc.value);
      v.textContent = fmtT(doc.value, { limit: 12, digits: 6 });
      const sh = doc.nodes[doc.output_id].shape;
      v.title = t("result.tensor_title", { shape: fmtShape(sh) });
    } else {
      v.dataset.value = raw(doc.value);
      v.textContent = fmt(doc.value, 10);
      v.title = fmtFull(doc.value);
    }
    out.append(label, v);
    resultBox.appendChild(out);
    if (doc.numeric) {
      const s = document.createElement("div");
      s.className = `numeric-summary ${doc.numeric.ok ? "ok" : "bad"}`;
      s.dataset.testid = "numeric-summary";
      s.textContent = doc.numeric.ok
        ? t("result.check_passed", { h: doc.numeric.h, tolerance: doc.numeric.tolerance })
        : t("result.check_failed", { h: doc.numeric.h });
      resultBox.appendChild(s);
    }
    if (doc.warnings && doc.warnings.length) {
      const ul = document.createElement("ul");
      ul.className = "warnings";
      ul.dataset.testid = "warnings";
      // the engine's notices in the page's language (engine-text.js); one the page does not know stays
      // as the engine wrote it, marked as English
      for (const w of doc.warnings) {
        const li = document.createElement("li");
        const known = warningText(w, doc, nodeName);
        li.textContent = known ?? w;
        if (known === null) li.lang = "en";
        ul.appendChild(li);
      }
      resultBox.appendChild(ul);
    }
  }

  return { update };
}

function updateTensorRow(r, inp, doc, f) {
  const big = isSummary(inp.value);
  r.badge.textContent = `${shapeText(inp.shape)}${inp.default !== null && inp.default !== undefined ? ` · ${t("inputs.from_program")}` : ""}`;
  const key = rawT(inp.value);
  if (big) {
    r.text.hidden = true;
    r.note.textContent = t("inputs.too_big", { shape: fmtShape(inp.shape), value: fmtT(inp.value) });
  } else if (document.activeElement !== r.text && key !== r.shown) {
    r.text.hidden = false;
    r.text.value = toEditText(inp.value);
    r.text.rows = Math.min(8, Math.max(1, inp.shape.length === 2 ? inp.shape[0] : 1));
    r.text.classList.remove("invalid");
    r.msg.classList.remove("bad");
    r.note.textContent = "";
  }
  r.shown = key;
  const edited = inp.default !== null && inp.default !== undefined && rawT(inp.default) !== key;
  r.reset.hidden = !edited;
  const g = doc.gradients[inp.name];
  r.grad.textContent = `∂${f}/∂${inp.name} = ${fmtT(g, { limit: 12, digits: 4 })}`;
  r.grad.dataset.value = rawT(g);
  const nc = doc.numeric && doc.numeric.inputs ? doc.numeric.inputs[inp.name] : null;
  if (nc && Array.isArray(nc.numeric)) {
    r.numeric.hidden = false;
    const n = nc.numeric.length;
    r.numeric.textContent = t("inputs.numeric_tensor", { count: n, error: relError(nc.rel_error) }) + (nc.ok ? " ✓" : " ✗");
    r.numeric.title = noteText(nc.note, doc, nodeName) || "";
    r.numeric.classList.toggle("bad", !nc.ok);
    r.numeric.dataset.relError = String(nc.rel_error);
    r.numeric.dataset.count = String(n);
    r.detail.hidden = false;
    const summary = document.createElement("summary");
    summary.textContent = t("inputs.numeric_detail");
    const table = document.createElement("table");
    const head = document.createElement("tr");
    for (const h of [t("inputs.column_index"), t("inputs.column_numeric"), t("inputs.column_analytic")]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    table.appendChild(head);
    nc.numeric.slice(0, 24).forEach((x, k) => {
      const tr = document.createElement("tr");
      const idx = nc.indices ? nc.indices[k] : [k];
      for (const t of [`[${[].concat(idx).join(", ")}]`, fmt(x, 8), fmt(nc.analytic[k], 8)]) {
        const td = document.createElement("td");
        td.textContent = t;
        tr.appendChild(td);
      }
      table.appendChild(tr);
    });
    const open = r.detail.open;
    r.detail.replaceChildren(summary, table);
    r.detail.open = open;
  } else if (nc) {
    r.numeric.hidden = false;
    r.numeric.textContent = t("inputs.numeric", { numeric: fmt(nc.numeric, 6), error: relError(nc.rel_error) }) + (nc.ok ? " ✓" : " ✗");
    r.numeric.classList.toggle("bad", !nc.ok);
    r.numeric.dataset.relError = String(nc.rel_error);
    r.detail.hidden = true;
  } else {
    r.numeric.hidden = true;
    r.numeric.textContent = "";
    r.detail.hidden = true;
  }
}

/** The row under an input that shows its gradient and, when asked, the numerical check. */
function gradSlots(name, gradClass) {
  const grads = document.createElement("div");
  grads.className = "grads";
  const grad = document.createElement("span");
  grad.className = gradClass;
  grad.dataset.testid = `grad-${name}`;
  const numeric = document.createElement("span");
  numeric.className = "numeric";
  numeric.dataset.testid = `numeric-${name}`;
  grads.append(grad, numeric);
  return { grads, grad, numeric };
}
