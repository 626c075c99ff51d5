// Animation controls and keyboard shortcuts. Wires DOM events to controller callbacks.

export function bindControls(c) {
  const $ = (id) => document.getElementById(id);
  $("btn-play").addEventListener("click", () => c.togglePlay());
  $("btn-fwd").addEventListener("click", () => c.step(1));
  $("btn-back").addEventListener("click", () => c.step(-1));
  $("btn-start").addEventListener("click", () => c.jump("start"));
  $("btn-end-fwd").addEventListener("click", () => c.jump("forward"));
  $("btn-end-bwd").addEventListener("click", () => c.jump("backward"));
  const speed = $("speed");
  const out = $("speed-out");
  speed.addEventListener("input", () => {
    out.textContent = `${speed.value}×`;
    c.setSpeed(Number(speed.value));
  });
  $("zoom-in").addEventListener("click", () => c.zoomBy(1.3));
  $("zoom-out").addEventListener("click", () => c.zoomBy(1 / 1.3));
  $("zoom-fit").addEventListener("click", () => c.fit());

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT"
      || (t.tagName === "INPUT" && !["checkbox", "button"].includes(t.type)) || t.isContentEditable);
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === " " || ev.code === "Space") {
      if (t && t.tagName === "BUTTON") return; // the button handles its own activation
      ev.preventDefault();
      c.togglePlay();
    } else if (ev.key === "ArrowRight") {
      ev.preventDefault();
      c.step(1);
    } else if (ev.key === "ArrowLeft") {
      ev.preventDefault();
      c.step(-1);
    } else if (ev.key === "Home") {
      c.jump("start");
    } else if (ev.key === "End") {
      c.jump("backward");
    }
  });

  return {
    setPlaying(playing) {
      $("btn-play").textContent = playing ? "❚❚ Pause" : "▶ Play";
      $("btn-play").setAttribute("aria-pressed", playing ? "true" : "false");
    },
  };
}
