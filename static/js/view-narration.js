// The caption under the circuit: what the step just taken computed, with the numbers from the
// engine's document (schedule.js builds the text; strings.js holds the words).
import { fmt } from "./format.js";
import { fmtT } from "./tensor.js";

export function mountNarration(ctx) {
  const { state, bus, $, t } = ctx;

  function update() {
    const box = $("narration");
    const sched = state.schedule;
    if (!sched || !state.doc) return;
    const total = sched.steps.length;
    const pos = Math.min(state.pos ?? total, total);
    const F = sched.forwardCount;
    const badge = document.createElement("span");
    const text = document.createElement("span");
    text.dataset.testid = "narration-text";
    if (pos === 0) {
      badge.className = "phase done";
      badge.textContent = t("narration.ready");
      text.textContent = t("narration.ready_text");
    } else if (pos === total) {
      badge.className = "phase done";
      badge.textContent = t("narration.done");
      text.textContent = state.doc.mode === "tensor"
        ? t("narration.done_tensor", { output: state.doc.output, value: fmtT(state.doc.value, { digits: 8 }) })
        : t("narration.done_scalar", { output: state.doc.output, value: fmt(state.doc.value, 8) });
    } else {
      const step = sched.steps[pos - 1];
      badge.className = `phase ${step.phase}`;
      const k = step.phase === "forward" ? pos : pos - F;
      const n = step.phase === "forward" ? F : total - F;
      badge.textContent = t("narration.step", { phase: t(step.phase === "forward" ? "narration.phase_forward" : "narration.phase_backward"), k, n });
      text.textContent = step.text;
    }
    box.replaceChildren(badge, text);
    box.dataset.pos = String(pos);
    // Screen readers hear single steps, not every frame of a running animation (a live region
    // that changes several times a second also costs a full accessibility-tree update).
    if (!state.playing) $("narration-live").textContent = `${badge.textContent}: ${text.textContent}`;
  }

  bus.on("pos", update);
  bus.on("doc", update);
  bus.on("lang", update);
}
