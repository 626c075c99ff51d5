// Playback: play/pause, stepping by gate or by statement, the progress bar as a scrubber, the
// speed, and the camera following the active node. The position itself lives in the state and is
// set through ctx.setPos (the circuit shows what a position means).
import { statementsOf } from "./groups.js";
import { nextStop, unitStops } from "./schedule.js";

export function mountAnimation(ctx) {
  const { state, bus, $, busy, t } = ctx;
  let timer = null;
  let endBusy = null;
  let stops = null;

  const stepMs = () => 900 / state.speed;

  function computeStops() {
    const sched = state.schedule, doc = state.doc, display = state.display;
    if (!sched || !doc || !display) {
      stops = null;
      return;
    }
    if (state.unit === "statement") {
      const { stmt } = statementsOf(doc);
      // a folded group is one unit even when it spans statements
      stops = unitStops(sched, (n) => (display.rep[n] !== n || display.groupOf.has(n) ? `g${display.rep[n]}` : stmt[n] >= 0 ? stmt[n] : null));
    } else {
      stops = unitStops(sched, (n) => display.rep[n]);
    }
    $("scrubber").dataset.stops = String(stops.length);
  }

  function followActive(playing) {
    if (!state.follow || !state.schedule || !ctx.circuit) return;
    const pos = state.pos;
    if (pos <= 0 || pos > state.schedule.steps.length) return;
    const step = state.schedule.steps[pos - 1];
    const id = state.display.rep[step.node];
    ctx.circuit.follow(id, { zoomIn: playing || state.present, animate: !playing || state.speed <= 2,
      lead: playing ? (step.phase === "forward" ? 1 : -1) : 0 });
  }

  function go(target, animate, playing = false) {
    const from = state.pos;
    ctx.setPos(target, { animate, from });
    followActive(playing);
  }

  function step(d) {
    stop();
    if (!state.schedule) return;
    if (!stops) computeStops();
    go(nextStop(stops, state.pos, d), d > 0);
  }

  function jump(where) {
    stop();
    if (!state.schedule) return;
    if (where === "start") ctx.setPos(0);
    else if (where === "forward") ctx.setPos(state.schedule.forwardCount);
    else ctx.setPos(state.schedule.steps.length);
  }

  function tick() {
    timer = null;
    const total = state.schedule ? state.schedule.steps.length : 0;
    if (!state.playing || state.pos >= total) {
      stop();
      return;
    }
    if (!stops) computeStops();
    go(nextStop(stops, state.pos, 1), true, true);
    // Pause a beat at the turn from forward to backward.
    const extra = state.pos === state.schedule.forwardCount ? stepMs() * 0.8 : 0;
    if (state.pos >= total) stop();
    else timer = setTimeout(tick, stepMs() + extra);
  }

  function play() {
    if (state.playing || !state.schedule) return;
    if (state.pos >= state.schedule.steps.length) ctx.setPos(0);
    state.playing = true;
    endBusy = busy.begin("playing");
    setPlayingUi(true);
    timer = setTimeout(tick, 120);
  }

  function stop() {
    clearTimeout(timer);
    timer = null;
    if (state.playing) {
      state.playing = false;
      setPlayingUi(false);
      // the frame may have changed size under the moving camera (a caption wrapping to two lines):
      // where playback stops, the active gate is in view
      followActive(false);
    }
    if (endBusy) {
      endBusy();
      endBusy = null;
      ctx.writeHashNow();
    }
  }

  function togglePlay() {
    if (state.playing) stop();
    else play();
  }

  function setPlayingUi(playing) {
    const b = $("btn-play");
    b.textContent = playing ? t("controls.pause") : t("controls.play");
    b.setAttribute("aria-pressed", playing ? "true" : "false");
  }

  function setSpeed(s) {
    state.speed = s;
    ctx.circuit.setStepMs(stepMs());
    $("speed").value = String(s);
    $("speed-out").textContent = t("controls.speed_value", { speed: s });
  }

  function setUnit(unit) {
    state.unit = unit === "statement" ? "statement" : "gate";
    $("unit").value = state.unit;
    stops = null;
    ctx.writeHashNow();
  }

  // ---- progress bar + scrubber ---------------------------------------------------------------
  const bar = $("scrubber");
  function paintProgress() {
    const sched = state.schedule;
    if (!sched) return;
    const total = sched.steps.length;
    const F = sched.forwardCount;
    const pos = state.pos;
    // transforms only: the progress bar animates on the compositor
    $("progress-fwd").style.width = `${(F / total) * 100}%`;
    $("progress-fwd").style.transform = `scaleX(${F ? Math.min(pos, F) / F : 0})`;
    $("progress-bwd").style.left = `${(F / total) * 100}%`;
    $("progress-bwd").style.width = `${((total - F) / total) * 100}%`;
    $("progress-bwd").style.transform = `scaleX(${total > F ? Math.max(0, pos - F) / (total - F) : 0})`;
    $("progress-thumb").style.left = `${(pos / total) * 100}%`;
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(pos));
    bar.setAttribute("aria-valuetext", t("scrubber.value", { pos, total }));
  }
  let scrubbing = false;
  const scrubTo = (ev) => {
    const sched = state.schedule;
    if (!sched) return;
    const r = bar.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width));
    const p = Math.round(f * sched.steps.length);
    if (p !== state.pos) ctx.setPos(p, { animate: false });
  };
  bar.addEventListener("pointerdown", (ev) => {
    stop();
    scrubbing = true;
    bar.setPointerCapture(ev.pointerId);
    bar.classList.add("scrubbing");
    scrubTo(ev);
  });
  bar.addEventListener("pointermove", (ev) => scrubbing && scrubTo(ev));
  const endScrub = () => {
    scrubbing = false;
    bar.classList.remove("scrubbing");
    followActive(false);
  };
  bar.addEventListener("pointerup", endScrub);
  bar.addEventListener("pointercancel", endScrub);

  // ---- wiring -----------------------------------------------------------------------------------
  $("btn-play").addEventListener("click", () => togglePlay());
  $("btn-fwd").addEventListener("click", () => step(1));
  $("btn-back").addEventListener("click", () => step(-1));
  $("btn-start").addEventListener("click", () => jump("start"));
  $("btn-end-fwd").addEventListener("click", () => jump("forward"));
  $("btn-end-bwd").addEventListener("click", () => jump("backward"));
  $("speed").addEventListener("input", () => setSpeed(Number($("speed").value)));
  $("unit").addEventListener("change", () => setUnit($("unit").value));
  $("btn-follow").addEventListener("click", () => {
    state.follow = !state.follow;
    $("btn-follow").setAttribute("aria-pressed", state.follow ? "true" : "false");
    ctx.writeHashNow();
  });
  $("btn-follow").setAttribute("aria-pressed", state.follow ? "true" : "false");

  bus.on("stop", stop);
  bus.on("doc", () => {
    stops = null;
    paintProgress();
  });
  bus.on("pos", paintProgress);
  bus.on("unit", ({ unit }) => setUnit(unit));
  bus.on("ready", () => {
    $("unit").value = state.unit;
    $("btn-follow").setAttribute("aria-pressed", state.follow ? "true" : "false");
  });

  Object.assign(ctx, { play, pause: stop, togglePlay, step, jump, setSpeed, setUnit, stepMs });
}
