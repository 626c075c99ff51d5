// The sweep: the output along one scalar input with the tangent line at the current value. The
// request is built from one document (its program, its inputs, its values), so a sweep can never
// pair a new program with the previous program's variable.
import { fmt, isHidden } from "./format.js";
import { drawSweep } from "./view-charts.js";
import { isTensorShape } from "./tensor.js";

export function mountSweep(ctx) {
  const { state, bus, $, api, busy, t } = ctx;
  let variable = null;
  let seq = 0;
  let abort = null;
  const later = busy.throttler("sweep-throttle"); // at once after a pause, at most one per 200 ms while dragging

  function scalarInputs(doc) {
    return doc.inputs.filter((i) => !isTensorShape(i.shape) && typeof i.value === "number").map((i) => i.name);
  }

  function updateChoices(doc) {
    const sel = $("sweep-var");
    const names = scalarInputs(doc);
    const have = [...sel.options].map((o) => o.value);
    if (have.join(",") !== names.join(",")) {
      sel.replaceChildren(...names.map((n) => {
        const o = document.createElement("option");
        o.value = n;
        o.textContent = n;
        return o;
      }));
    }
    if (!names.includes(variable)) variable = names[0] ?? null;
    if (variable) sel.value = variable;
  }

  async function run() {
    const doc = state.doc;
    const status = $("sweep-status");
    if (abort) abort.abort();
    const mySeq = ++seq;
    if (!doc || !doc.program) return; // a document shown without its program (benchmarks) cannot be swept
    const names = scalarInputs(doc);
    const v = names.includes(variable) ? variable : null;
    if (!v) {
      $("sweep-chart").replaceChildren();
      status.textContent = doc.inputs.length ? t("sweep.no_scalar_inputs") : t("sweep.no_inputs");
      return;
    }
    if (isHidden(doc.value)) {
      // quiz mode hides the output's value: its curve would give it away
      $("sweep-chart").replaceChildren();
      status.textContent = t("quiz.hidden_tool");
      return;
    }
    const x0 = doc.inputs.find((i) => i.name === v).value;
    const r = Math.max(1e-3, Number($("sweep-range").value) || 5);
    abort = new AbortController();
    try {
      const res = await api.sweep(doc.program, ctx.currentValues(doc), v, x0 - r, x0 + r, 121, abort.signal);
      if (mySeq !== seq || doc !== state.doc) return;
      const f0 = typeof doc.value === "number" ? doc.value : NaN; // a tensor output: no tangent line
      // (quiz mode: the tangent's slope is the input's gradient; HIDDEN draws no tangent and prints "?")
      drawSweep($("sweep-chart"), res, x0, f0, doc.gradients[v], v, doc.output);
      status.textContent = t("sweep.status", { output: doc.output, input: v, from: fmt(x0 - r), to: fmt(x0 + r), x: fmt(x0),
        slope: fmt(doc.gradients[v], 6) });
    } catch (err) {
      if (err.name !== "AbortError" && mySeq === seq) status.textContent = err.message;
    }
  }

  $("sweep-var").addEventListener("change", (ev) => {
    variable = ev.target.value;
    run();
  });
  $("sweep-range").addEventListener("change", () => run());
  bus.on("doc", ({ doc, programChanged }) => {
    if (programChanged) {
      $("sweep-chart").replaceChildren();
      $("sweep-status").textContent = "";
    }
    updateChoices(doc);
    later.run(run, 200);
  });
  bus.on("resize", () => later.run(run, 50));
}
