// Gradient steps: one step up or down, N steps with the optimizer (the output per step as a
// chart), which inputs move in tensor mode, and for a program of two scalar inputs a contour plot
// of the output over both with the optimizer's path on it. Everything here belongs to one
// program: a new program starts with an empty chart, no path and every input ticked.
import { fmt } from "./format.js";
import { drawContour, drawTrajectory } from "./view-charts.js";
import { fmtT, isTensorShape } from "./tensor.js";

const GRID_X = 41, GRID_Y = 25;

export function mountTraining(ctx) {
  const { state, bus, $, api, busy, t } = ctx;
  let trainVars = null;   // tensor mode: the inputs "gradient steps" move (null = all)
  let anim = null;        // {frame id, end busy}
  let runSeq = 0;
  let path = [];          // optimizer path for the contour: [[x, y], ...]
  let contour = null;     // {program, vars, domain, grid}
  let contourSeq = 0;
  let contourAbort = null;
  const contourLater = busy.throttler("contour-throttle"); // at once, then at most one grid per 350 ms

  // ---- reset: nothing carries over to a new program ------------------------------------------
  function reset() {
    cancelAnim();
    contourLater.cancel();
    if (contourAbort) contourAbort.abort();
    runSeq++;
    path = [];
    contour = null;
    contourSeq++;
    trainVars = null;
    const status = $("opt-status");
    status.textContent = "";
    delete status.dataset.final;
    drawTrajectory($("opt-chart"), [], 1, t("optimize.chart_empty"));
    $("contour-box").hidden = true;
    $("contour").replaceChildren();
  }

  function cancelAnim() {
    if (anim) {
      cancelAnimationFrame(anim.frame);
      anim.end();
      anim = null;
    }
  }

  // ---- which inputs move (tensor mode) ----------------------------------------------------
  function updateTrainVars() {
    const box = $("train-vars");
    const doc = state.doc;
    if (!doc || doc.mode !== "tensor" || doc.inputs.length < 2) {
      box.hidden = true;
      box.replaceChildren();
      box.dataset.key = "";
      return;
    }
    const names = doc.inputs.map((i) => i.name);
    if (trainVars) {
      trainVars = trainVars.filter((n) => names.includes(n));
      if (!trainVars.length) trainVars = null;
    }
    const key = names.join(",") + "|" + (trainVars ? trainVars.join(",") : "*");
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.hidden = false;
    const label = document.createElement("span");
    label.textContent = t("optimize.move");
    const items = names.map((n) => {
      const l = document.createElement("label");
      const c = document.createElement("input");
      c.type = "checkbox";
      c.value = n;
      c.dataset.testid = `train-${n}`;
      c.checked = !trainVars || trainVars.includes(n);
      c.addEventListener("change", () => {
        trainVars = [...box.querySelectorAll("input:checked")].map((x) => x.value);
        box.dataset.key = names.join(",") + "|" + trainVars.join(",");
      });
      l.append(c, document.createTextNode(n));
      return l;
    });
    box.replaceChildren(label, ...items);
  }

  function variables() {
    if (!state.doc || state.doc.mode !== "tensor" || !trainVars) return null;
    return trainVars.length ? trainVars : null;
  }

  // Values an optimizer run hands back that the page can send again: numbers and nested lists
  // (trajectory entries for tensors are {shape, norm}; big final tensors may be summaries).
  function usable(values) {
    const out = {};
    for (const [k, v] of Object.entries(values || {})) if (typeof v === "number" || Array.isArray(v)) out[k] = v;
    return out;
  }

  // Quiz mode: gradient steps would give the hidden gradients away (x moves by step · ∂f/∂x), and the
  // contour the hidden values: the tool waits until the quiz has revealed everything.
  function quizLock(doc = state.doc) {
    const locked = !!(doc && doc.hidden);
    for (const id of ["opt-up", "opt-down", "opt-run"]) $(id).disabled = locked;
    $("optimize").classList.toggle("quiz-locked", locked);
    if (locked) {
      // a run from before quiz mode would show where the gradients pointed: clear it
      cancelAnim();
      runSeq++;
      path = [];
      $("opt-status").textContent = t("quiz.hidden_tool");
      delete $("opt-status").dataset.final;
      drawTrajectory($("opt-chart"), [], 1, t("quiz.hidden_tool"));
      $("contour-box").hidden = true;
    } else if ($("opt-status").textContent === t("quiz.hidden_tool")) $("opt-status").textContent = "";
    return locked;
  }

  async function optimize(mode, steps) {
    const doc = state.doc;
    if (!doc || quizLock(doc)) return;
    const size = Number($("opt-size").value);
    const status = $("opt-status");
    if (!(size >= 0)) {
      status.textContent = t("optimize.bad_step_size");
      return;
    }
    if (doc.mode === "tensor" && trainVars && !trainVars.length) {
      status.textContent = t("optimize.tick_one");
      return;
    }
    cancelAnim();
    const seq = ++runSeq;
    const end = busy.begin("optimize");
    try {
      const res = await api.optimize(doc.program, ctx.currentValues(doc), mode, size, steps, undefined, variables());
      if (seq !== runSeq || state.doc !== doc && state.doc.program !== doc.program) return;
      const traj = res.trajectory;
      const out = doc.output;
      const two = contourVars(doc);
      if (steps === 1) {
        drawTrajectory($("opt-chart"), traj.map((s) => s.value), 1, out);
        status.textContent = t("optimize.one_step", { mode: t(`optimize.mode_${mode}`), output: out, before: fmt(traj[0].value, 6), after: fmt(res.final.value, 6) });
        if (two) extendPath([traj[0].values, res.final.values], two);
        await ctx.setValues(usable(res.final.values));
        return;
      }
      if (two) path = [];
      const dur = Math.min(3000, Math.max(600, traj.length * 20));
      const t0 = performance.now();
      let lastEval = 0;
      const endAnim = busy.begin("optimize-animation");
      const frame = (now) => {
        // (a frame's timestamp can be earlier than t0: clamp, or traj[-1] is undefined; this was the
        // uncaught "reading 'step'" error of the issue)
        const k = Math.max(0, Math.min(traj.length - 1, Math.floor(((now - t0) / dur) * (traj.length - 1))));
        drawTrajectory($("opt-chart"), traj.slice(0, k + 1).map((s) => s.value), traj.length - 1, out);
        status.textContent = t("optimize.progress", { step: traj[k].step, steps: res.steps, output: out, value: fmt(traj[k].value, 8) });
        if (two) {
          path = traj.slice(0, k + 1).map((s) => [s.values[two[0]], s.values[two[1]]]);
          paintContour();
        }
        if (now - lastEval > 90 || k === traj.length - 1) {
          lastEval = now;
          ctx.setValues(usable(k === traj.length - 1 ? res.final.values : traj[k].values));
        }
        if (k < traj.length - 1) anim.frame = requestAnimationFrame(safe);
        else {
          anim = null;
          endAnim();
          const vals = Object.entries(res.final.values).filter(([n]) => res.variables.includes(n))
            .map(([n, v]) => `${n} ${fmtT(v, { digits: 6 })}`).join(", ");
          status.textContent = t("optimize.done", { steps: res.steps, values: vals, output: out, value: fmt(res.final.value, 10) });
          status.dataset.final = String(res.final.value);
          if (two) {
            path.push([res.final.values[two[0]], res.final.values[two[1]]]);
            ensureContour();
          }
        }
      };
      // a failing frame must not leave the page busy forever
      const safe = (now) => {
        try {
          frame(now);
        } catch (err) {
          console.error(err);
          status.textContent = err.message;
          if (anim) cancelAnim();
        }
      };
      anim = { frame: requestAnimationFrame(safe), end: endAnim };
    } catch (err) {
      if (seq === runSeq) status.textContent = err.message;
    } finally {
      end();
    }
  }

  // ---- contour plot (two scalar inputs) -------------------------------------------------------
  function contourVars(doc) {
    if (!doc || !doc.program || typeof doc.value !== "number") return null;
    const scalars = doc.inputs.filter((i) => !isTensorShape(i.shape) && typeof i.value === "number");
    return doc.inputs.length === 2 && scalars.length === 2 ? [scalars[0].name, scalars[1].name] : null;
  }

  function extendPath(valueMaps, two) {
    for (const v of valueMaps) if (v && typeof v[two[0]] === "number") path.push([v[two[0]], v[two[1]]]);
    ensureContour();
  }

  // A square-ish window around the current point and the path: +-2.5 with no path yet (the path
  // of a run should be big enough to see), wider when the path needs it.
  function wantedDomain(doc, two) {
    const cur = two.map((n) => doc.inputs.find((i) => i.name === n).value);
    const xs = [cur[0], ...path.map((p) => p[0])], ys = [cur[1], ...path.map((p) => p[1])];
    const span = (a) => Math.max(...a) - Math.min(...a);
    const r = Math.max(2.5, span(xs) * 0.75, span(ys) * 0.75);
    const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
    return { x0: cx - r, x1: cx + r, y0: cy - r, y1: cy + r };
  }

  function covers(d, pts) {
    return pts.every(([x, y]) => x >= d.x0 && x <= d.x1 && y >= d.y0 && y <= d.y1);
  }

  // The grid of f over both inputs: one batched evaluation of its GRID_X x GRID_Y points.
  async function ensureContour() {
    const doc = state.doc;
    if (doc && doc.hidden) return; // quiz mode (quizLock)
    const two = contourVars(doc);
    const box = $("contour-box");
    if (!two) {
      box.hidden = true;
      contour = null;
      return;
    }
    box.hidden = false;
    const cur = two.map((n) => doc.inputs.find((i) => i.name === n).value);
    if (contour && contour.program === doc.program && contour.vars.join() === two.join()
        && covers(contour.domain, [cur, ...path])) {
      paintContour();
      return;
    }
    const domain = wantedDomain(doc, two);
    const seq = ++contourSeq;
    if (contourAbort) contourAbort.abort();
    const abort = (contourAbort = new AbortController());
    const end = busy.begin("contour");
    try {
      const xs = [], ys = []; // row by row: point j * GRID_X + i is (column i, row j)
      for (let j = 0; j < GRID_Y; j++) {
        const y = domain.y0 + ((domain.y1 - domain.y0) * j) / (GRID_Y - 1);
        for (let i = 0; i < GRID_X; i++) {
          xs.push(domain.x0 + ((domain.x1 - domain.x0) * i) / (GRID_X - 1));
          ys.push(y);
        }
      }
      const res = await api.batch(doc.program, ctx.currentValues(doc), { [two[0]]: xs, [two[1]]: ys }, abort.signal);
      if (seq !== contourSeq || state.doc.program !== doc.program) return;
      contour = { program: doc.program, vars: two, domain, grid: res.value };
      paintContour();
    } catch (err) {
      if (seq === contourSeq && err.name !== "AbortError") $("contour-status").textContent = err.message;
    } finally {
      end();
    }
  }

  function paintContour() {
    const doc = state.doc;
    if (!contour || !doc || doc.program !== contour.program) return;
    const cur = contour.vars.map((n) => doc.inputs.find((i) => i.name === n)?.value);
    drawContour($("contour"), { ...contour, nx: GRID_X, ny: GRID_Y }, path, cur, doc.output);
    $("contour-status").textContent = t("contour.caption", { output: doc.output, x: contour.vars[0], y: contour.vars[1], count: path.length });
  }

  // ---- wiring -----------------------------------------------------------------------------------
  $("opt-up").addEventListener("click", () => optimize("ascent", 1));
  $("opt-down").addEventListener("click", () => optimize("descent", 1));
  $("opt-run").addEventListener("click", () => {
    const n = Math.max(1, Math.min(10000, Math.round(Number($("opt-n").value) || 1)));
    optimize($("opt-mode").value, n);
  });

  bus.on("preset", ({ preset }) => {
    reset();
    const opt = preset.expected && preset.expected.optimize;
    trainVars = opt && opt.variables ? [...opt.variables] : null;
    if (opt) {
      $("opt-mode").value = opt.mode;
      $("opt-size").value = String(opt.step_size);
      $("opt-n").value = String(opt.steps);
    }
    presetProgram = preset.program;
  });
  let presetProgram = null; // the preset's settings survive the first document of its program only
  bus.on("doc", ({ doc, programChanged }) => {
    if (programChanged && doc.program !== presetProgram) reset();
    if (doc.program !== presetProgram) presetProgram = null;
    updateTrainVars();
    if (quizLock()) {
      contourLater.cancel();
      if (contourAbort) contourAbort.abort();
      return;
    }
    // the grid is one batched request of 1,025 points: sent at once for a new program (a newer program aborts it),
    // at most one per 350 ms while the program or its values keep changing
    if (contourVars(state.doc)) {
      if (!anim) contourLater.run(() => ensureContour(), contour && contour.program === state.doc.program ? 0 : 350);
    } else {
      contourLater.cancel();
      if (contourAbort) contourAbort.abort();
      $("contour-box").hidden = true;
    }
  });
  bus.on("resize", () => paintContour());
  drawTrajectory($("opt-chart"), [], 1, t("optimize.chart_empty"));

  Object.assign(ctx, { optimize, resetTraining: reset });
}
