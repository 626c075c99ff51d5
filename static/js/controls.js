// Keyboard shortcuts and the buttons that are not part of one view: zoom, presenter mode, the
// panel overlays of presenter mode, folding everything, sharing and exports.
//   space play/pause · ←/→ step (by gate or statement) · Home/End start/end · p presenter mode
//   f fit · u gate/statement · Esc close an overlay · Tab into the circuit, then arrows along edges
import { exportJson, exportPng, exportSvg } from "./export.js";
import { shareUrl } from "./state.js";

export function mountControls(ctx) {
  const { state, $, t } = ctx;
  const c = ctx.circuit;
  $("zoom-in").addEventListener("click", () => c.zoomBy(1.3));
  $("zoom-out").addEventListener("click", () => c.zoomBy(1 / 1.3));
  $("zoom-fit").addEventListener("click", () => c.fit());
  $("btn-present").addEventListener("click", () => ctx.setPresent(!state.present));
  $("btn-fold-all").addEventListener("click", () => ctx.foldAll());
  $("btn-unfold-all").addEventListener("click", () => ctx.unfoldAll());
  for (const [btn, cls] of [["show-left", "show-left"], ["show-right", "show-right"]]) {
    $(btn).addEventListener("click", () => {
      const on = !document.body.classList.contains(cls);
      ctx.closeOverlays();
      document.body.classList.toggle(cls, on);
      $(btn).setAttribute("aria-expanded", on ? "true" : "false");
    });
  }
  for (const b of document.querySelectorAll("[data-close-overlay]")) b.addEventListener("click", () => ctx.closeOverlays());

  $("share-btn").addEventListener("click", async () => {
    ctx.writeHashNow();
    const url = shareUrl();
    $("share-bar").hidden = false;
    $("share-url").value = url;
    $("share-url").select();
    try {
      await navigator.clipboard.writeText(url);
      $("share-status").textContent = t("share.copied");
    } catch {
      $("share-status").textContent = t("share.select");
    }
  });
  const step = () => ({ pos: state.pos, total: state.schedule ? state.schedule.steps.length : 0, schedule: state.schedule,
    unit: state.unit, bounds: c.contentBounds() });
  $("export-svg").addEventListener("click", () => state.doc && exportSvg($("circuit"), state.layout, state.doc, step()));
  $("export-png").addEventListener("click", () => state.doc && exportPng($("circuit"), state.layout, state.doc, step()));
  $("export-json").addEventListener("click", () => state.doc && exportJson(state.doc, state.doc.program, step()));

  document.addEventListener("keydown", (ev) => {
    const tg = ev.target;
    const typing = tg && (tg.tagName === "TEXTAREA" || tg.tagName === "SELECT"
      || (tg.tagName === "INPUT" && !["checkbox", "button", "range"].includes(tg.type)) || tg.isContentEditable);
    if (ev.key === "Escape" && document.body.matches(".show-left, .show-right")) {
      ctx.closeOverlays();
      return;
    }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (state.tab === "train" && ev.key !== "p" && ev.key !== "P") return; // the circuit's keys, not the Train view's
    if (tg && tg.type === "range" && tg.id !== "scrubber" && ["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
    if (ev.key === " " || ev.code === "Space") {
      if (tg && tg.tagName === "BUTTON") return; // the button handles its own activation
      ev.preventDefault();
      ctx.togglePlay();
    } else if (ev.key === "ArrowRight") {
      ev.preventDefault();
      ctx.step(1);
    } else if (ev.key === "ArrowLeft") {
      ev.preventDefault();
      ctx.step(-1);
    } else if (ev.key === "Home") {
      ev.preventDefault();
      ctx.jump("start");
    } else if (ev.key === "End") {
      ev.preventDefault();
      ctx.jump("backward");
    } else if (ev.key === "p" || ev.key === "P") {
      ctx.setPresent(!state.present);
    } else if (ev.key === "f") {
      c.fit();
    } else if (ev.key === "u") {
      ctx.setUnit(state.unit === "gate" ? "statement" : "gate");
    }
  });
}
