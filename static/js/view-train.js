// The Train view (issue 12, item 6): its own tab. The learner picks data (a built-in set with a
// preview, or a pasted or uploaded CSV with a target column), a network (the form writes the
// program through POST /api/v1/train/program; the learner may edit it), an optimizer and its
// settings, and trains: POST /api/v1/train streams start/progress/epoch/done events, drawn live
// (loss and accuracy of both splits, progress with time left, the decision boundary of 2-D data,
// test digits with their predicted labels and the confusion matrix, per-layer weight and gradient
// norms). Cancel closes the stream (the server stops the run). "Open this step in the circuit"
// evaluates the program with the trained parameters on the last mini-batch in the circuit view.
//
// Its shareable state is state.tab ("circuit" | "train") and state.train (the form), in the URL
// hash as view=train&ds=moons&hid=16... (only what differs from the dataset's defaults).
import { el } from "./dom.js";
import { fromHash, registerShared, writeHashNow, writeHashSoon } from "./state.js";
import { fmt } from "./format.js";
import { drawConfusion, drawLines, drawPlane, layerShade, paintImage, TEST_COLOR, toRows, TRAIN_COLOR } from "./train-charts.js";
import { trainApi, trainStream } from "./train-api.js";

// Settings that train each dataset well in a few seconds (the form starts from these).
const BASE = { hidden: [32], activation: "relu", loss: null, weightDecay: 0, optimizer: "sgd", lr: 0.1, batch: 32, epochs: 15,
  seed: 0, target: null, program: null };
export const DATASET_DEFAULTS = {
  digits: { ...BASE },
  moons: { ...BASE, hidden: [16], optimizer: "adam", lr: 0.02, epochs: 40 },
  circles: { ...BASE, hidden: [16], optimizer: "adam", lr: 0.02, epochs: 40 },
  xor: { ...BASE, hidden: [16], optimizer: "adam", lr: 0.02, epochs: 40 },
  spirals: { ...BASE, hidden: [64], optimizer: "adam", lr: 0.02, epochs: 80 },
  mnist: { ...BASE, hidden: [128], batch: 64, epochs: 2 },
  csv: { ...BASE, hidden: [16], optimizer: "adam", lr: 0.01, epochs: 50 },
};
const DATASETS = ["digits", "moons", "circles", "spirals", "xor", "mnist"];
const defaultsFor = (ds) => ({ ds, ...structuredClone(DATASET_DEFAULTS[ds] || DATASET_DEFAULTS.digits) });

// hash names of the form's fields
const HASH = { hidden: "hid", activation: "act", loss: "loss", weightDecay: "wd", optimizer: "opt", lr: "lr", batch: "bs",
  epochs: "ep", seed: "seed", target: "tgt", program: "tp" };
const ACTIVATIONS = ["relu", "sigmoid", "tanh"];
const LOSSES = ["softmax_cross_entropy", "mse"];
const OPTIMIZERS = ["sgd", "momentum", "adam"];
const EPOCH_PACE_MS = 60; // a fast run is shown at most this fast (not with reduced motion)
const SHOWN_DIGITS = 32;

function parseHidden(s) {
  const parts = String(s).split(/[,\s]+/).filter(Boolean);
  const sizes = parts.map(Number);
  if (!sizes.length || sizes.length > 8 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 100000)) return null;
  return sizes;
}

function readHashTrain(p) {
  const out = {};
  const ds = p.get("ds");
  if (ds && (DATASETS.includes(ds) || ds === "csv")) out.ds = ds;
  const numOf = (k) => (p.has(k) && Number.isFinite(Number(p.get(k))) ? Number(p.get(k)) : undefined);
  if (p.has("hid")) {
    const h = parseHidden(p.get("hid"));
    if (h) out.hidden = h;
  }
  if (ACTIVATIONS.includes(p.get("act"))) out.activation = p.get("act");
  if (LOSSES.includes(p.get("loss"))) out.loss = p.get("loss");
  if (OPTIMIZERS.includes(p.get("opt"))) out.optimizer = p.get("opt");
  for (const [key, name] of [["weightDecay", "wd"], ["lr", "lr"], ["batch", "bs"], ["epochs", "ep"], ["seed", "seed"]]) {
    const v = numOf(name);
    if (v !== undefined) out[key] = v;
  }
  if (p.has("tgt")) out.target = p.get("tgt");
  if (p.has("tp")) out.program = p.get("tp");
  return Object.keys(out).length ? out : null;
}

function writeHashTrain(p, s) {
  if (s.tab !== "train" || !s.train) return;
  const tr = s.train;
  p.set("view", "train");
  p.set("ds", tr.ds);
  const d = defaultsFor(tr.ds);
  for (const [key, name] of Object.entries(HASH)) {
    const v = tr[key];
    if (v === null || v === undefined || JSON.stringify(v) === JSON.stringify(d[key])) continue;
    p.set(name, Array.isArray(v) ? v.join(",") : String(v));
  }
}

export function mountTrain(ctx) {
  const { state, bus, $, busy, t } = ctx;
  state.tab = "circuit";
  state.train = defaultsFor("digits");
  registerShared(["tab", "train"], {
    write: writeHashTrain,
    read(p, out) {
      if (p.has("view")) out.tab = p.get("view") === "train" ? "train" : "circuit";
      else if (p.has("p")) out.tab = "circuit";
      const tr = readHashTrain(p);
      if (tr) out.train = tr;
    },
  });

  const view = $("train-view");
  let catalogue = null;      // GET /api/v1/datasets
  let catalogueLoad = null;
  let limits = null;         // GET /api/v1/limits
  let csvText = "";          // the pasted or uploaded CSV (not in the hash: too big)
  let written = null;        // the last answer of /train/program for the form
  let programSeq = 0;
  let programAbort = null;
  const programLater = busy.debouncer("train-program");
  let run = null;            // the current or last run (below)
  let runSeq = 0;
  let drawFrame = null;

  // ---- the tab ------------------------------------------------------------------------------
  // (write: false while the page starts: the controller has not read the rest of the hash yet)
  function setTab(tab, write = true) {
    tab = tab === "train" ? "train" : "circuit";
    const was = state.tab;
    state.tab = tab;
    const on = tab === "train";
    document.body.classList.toggle("view-train", on);
    view.hidden = !on;
    for (const el of document.querySelectorAll("main.layout > :not(#train-view)")) el.inert = on;
    $("tab-train").setAttribute("aria-selected", String(on));
    $("tab-circuit").setAttribute("aria-selected", String(!on));
    if (on && was !== "train") {
      if (state.playing && ctx.pause) ctx.pause();
      ensureCatalogue();
      scheduleDraw();
    }
    if (!on && was === "train" && state.layout && ctx.circuit) {
      // on narrow screens the circuit was not laid out while hidden: fit it once it has its size again
      const end = busy.begin("train-tab");
      requestAnimationFrame(() => {
        if (window.matchMedia("(max-width: 900px), (max-height: 560px)").matches) ctx.circuit.fit(false);
        end();
      });
    }
    if (write) writeHashNow();
  }

  // ---- the form <-> state.train -------------------------------------------------------------
  function fillSelect(sel, values, label, disabled = () => false) {
    const keep = sel.value;
    sel.replaceChildren(...values.map((v) => {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = label(v);
      o.disabled = disabled(v);
      return o;
    }));
    if (values.includes(keep)) sel.value = keep;
  }

  function datasetNames() {
    const have = catalogue ? catalogue.map((d) => d.name) : DATASETS.filter((d) => d !== "mnist");
    return [...DATASETS.filter((d) => have.includes(d)), "csv"];
  }

  function taskOf() {
    if (state.train.ds !== "csv") return "classification";
    if (state.train.loss) return state.train.loss === "mse" ? "regression" : "classification";
    return written && written.loss === "mse" ? "regression" : "classification";
  }

  function currentLoss() {
    if (state.train.loss) return state.train.loss;
    return taskOf() === "regression" ? "mse" : "softmax_cross_entropy";
  }

  function renderForm() {
    const tr = state.train;
    fillSelect($("train-dataset"), datasetNames(), (d) => t(`train.ds_${d}`));
    $("train-dataset").value = tr.ds;
    fillSelect($("train-activation"), ACTIVATIONS, (a) => a);
    fillSelect($("train-loss"), LOSSES, (l) => t(`train.loss_${l}`), (l) => tr.ds !== "csv" && l === "mse");
    fillSelect($("train-optimizer"), OPTIMIZERS, (o) => t(`train.opt_${o}`));
    $("train-hidden").value = tr.hidden.join(",");
    $("train-activation").value = tr.activation;
    $("train-loss").value = currentLoss();
    $("train-wd").value = String(tr.weightDecay);
    $("train-seed").value = String(tr.seed);
    $("train-optimizer").value = tr.optimizer;
    $("train-lr").value = String(tr.lr);
    $("train-batch").value = String(tr.batch);
    $("train-epochs").value = String(tr.epochs);
    $("train-csv-box").hidden = tr.ds !== "csv";
    renderProgramState();
    for (const el of view.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  function renderProgramState() {
    const edited = state.train.program !== null;
    $("train-program-state").textContent = edited ? t("train.program_edited") : t("train.program_written");
    $("train-program-reset").hidden = !edited;
    const text = edited ? state.train.program : written ? written.program : "";
    if ($("train-program").value !== text) $("train-program").value = text;
  }

  function formError(msg, field = null) {
    const box = $("train-form-error");
    box.hidden = !msg;
    box.textContent = msg || "";
    for (const el of view.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (field && $(field)) $(field).setAttribute("aria-invalid", "true");
  }

  // the form changed: remember it, put it in the URL, and rewrite the program when it depends on it
  function onField(key, value, { program = true } = {}) {
    state.train[key] = value;
    writeHashSoon();
    if (program && state.train.program === null) requestProgram();
  }

  function numberField(id, key, { integer = false, min = 0, strict = true } = {}) {
    $(id).addEventListener("input", () => {
      const v = Number($(id).value);
      const ok = $(id).value.trim() !== "" && Number.isFinite(v) && (strict ? v > min : v >= min) && (!integer || Number.isInteger(v));
      if (!ok) {
        const field = t(`train.${key === "weightDecay" ? "weight_decay" : key}`);
        formError(t(integer ? "train.bad_count" : "train.bad_number", { field }), id);
        return;
      }
      formError(null);
      onField(key, v, { program: key === "weightDecay" || key === "seed" });
    });
  }

  function setDataset(ds, partial = null) {
    const keepProgram = partial && "program" in partial;
    state.train = { ...defaultsFor(ds), ...(partial || {}) };
    if (!keepProgram) state.train.program = null;
    written = null;
    renderForm();
    renderPreview();
    resetRun();
    requestProgram(0);
    writeHashSoon();
  }

  // ---- the datasets and their previews -----------------------------------------------------------
  function ensureCatalogue() {
    if (!catalogueLoad) {
      catalogueLoad = Promise.all([trainApi.datasets(), trainApi.limits()]).then(([items, lim]) => {
        catalogue = items;
        limits = lim;
        renderForm();
        renderPreview();
        scheduleDraw();
        if (!written && state.train.program === null) requestProgram(0);
      }).catch((err) => {
        catalogueLoad = null;
        formError(err.message);
      });
      busy.track(catalogueLoad, "train-datasets");
    }
    return catalogueLoad;
  }

  function info(ds) {
    return catalogue ? catalogue.find((d) => d.name === ds) || null : null;
  }

  function renderPreview() {
    const box = $("train-preview");
    const meta = $("train-ds-info");
    const tr = state.train;
    box.replaceChildren();
    box.dataset.kind = "";
    meta.textContent = "";
    if (tr.ds === "csv") {
      renderCsvPreview();
      return;
    }
    const d = info(tr.ds);
    if (!d) return;
    meta.textContent = t(d.task === "regression" ? "train.ds_info_regression" : "train.ds_info",
      { samples: d.samples.toLocaleString(), features: d.features, classes: d.classes.length });
    const p = d.preview;
    box.dataset.kind = p.kind;
    if (p.kind === "images") {
      const grid = document.createElement("div");
      grid.className = "train-thumbs";
      p.images.forEach((img, i) => grid.append(thumb(toRows(img, p.shape), p.labels[i], null, 26)));
      box.append(grid);
    } else if (p.kind === "points") {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "train-scatter");
      svg.dataset.testid = "train-preview-scatter";
      box.append(svg);
      drawPlane(svg, null, { points: p.points, labels: p.labels }, { pointRadius: 2.2 });
    }
  }

  function thumb(rows, label, predicted, px) {
    const fig = document.createElement("figure");
    fig.className = "train-thumb";
    const c = document.createElement("canvas");
    paintImage(c, rows, px);
    const cap = document.createElement("figcaption");
    if (predicted === null || predicted === undefined) cap.textContent = String(label);
    else {
      const ok = String(predicted) === String(label);
      fig.classList.add(ok ? "right" : "wrong");
      fig.dataset.label = String(label);
      fig.dataset.predicted = String(predicted);
      const b = document.createElement("b");
      b.textContent = String(predicted);
      cap.append(b);
      if (!ok) {
        const s = document.createElement("span");
        s.textContent = ` ${t("train.digits_true", { label })}`;
        cap.append(s);
      }
    }
    fig.append(c, cap);
    return fig;
  }

  // ---- the CSV ----------------------------------------------------------------------------------
  // Enough of RFC 4180 for a preview: quoted fields, doubled quotes; the server parses it for real.
  function csvRows(text, max) {
    const rows = [];
    let row = [], field = "", quoted = false, i = 0;
    while (i < text.length && rows.length < max) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
        if (ch === '"') { quoted = false; i++; continue; }
        field += ch;
        i++;
        continue;
      }
      if (ch === '"') quoted = true;
      else if (ch === ",") { row.push(field); field = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        row.push(field);
        if (row.some((c) => c.trim() !== "")) rows.push(row);
        row = [];
        field = "";
      } else field += ch;
      i++;
    }
    if (rows.length < max && (field !== "" || row.length)) {
      row.push(field);
      if (row.some((c) => c.trim() !== "")) rows.push(row);
    }
    return rows;
  }

  function renderCsvPreview() {
    const box = $("train-preview");
    const rows = csvRows(csvText, 9);
    const sel = $("train-target");
    if (!rows.length) {
      sel.replaceChildren();
      $("train-ds-info").textContent = t("train.csv_empty");
      return;
    }
    const header = rows[0].map((h) => h.trim());
    fillSelect(sel, header, (h) => h);
    const target = state.train.target && header.includes(state.train.target) ? state.train.target : header[header.length - 1];
    sel.value = target;
    const lines = csvText.split(/\r?\n/).filter((l) => l.trim()).length;
    $("train-ds-info").textContent = t("train.csv_rows", { rows: Math.max(0, lines - 1), columns: header.length, shown: rows.length - 1 });
    const ti = header.indexOf(target); // the target column is marked in the header and in every row
    const row = (cells, tag) => {
      const tr = el("tr");
      cells.forEach((c, j) => tr.append(el(tag, j === ti ? { class: "target" } : {}, c)));
      return tr;
    };
    const table = el("table", { class: "train-csv-table", testid: "train-csv-table" });
    table.append(row(header, "th"), ...rows.slice(1).map((r) => row(r, "td")));
    box.dataset.kind = "table";
    box.append(table);
  }

  const csvLater = busy.debouncer("train-csv");
  function setCsv(text) {
    csvText = text;
    csvLater.run(() => {
      renderPreview();
      const header = csvRows(csvText, 1)[0];
      if (header && state.train.target && !header.map((h) => h.trim()).includes(state.train.target)) state.train.target = null;
      resetRun();
      if (state.train.program === null) requestProgram(0);
    }, 300);
  }

  async function readFile(file) {
    const max = limits && limits.max_body_bytes;
    if (max && file.size > max - 4096) {
      formError(t("train.csv_too_big", { size: file.size.toLocaleString(), limit: max.toLocaleString() }), "train-csv-file");
      return;
    }
    const text = await busy.track(file.text(), "train-csv-file");
    $("train-csv").value = text;
    formError(null);
    setCsv(text);
  }

  // ---- the program the form writes ------------------------------------------------------------------
  function programBody() {
    const tr = state.train;
    const body = { hidden: tr.hidden, activation: tr.activation, weight_decay: tr.weightDecay, seed: tr.seed };
    if (tr.ds === "csv") {
      body.csv = csvText;
      if (tr.target) body.target = tr.target;
      if (tr.loss) body.task = tr.loss === "mse" ? "regression" : "classification";
    } else body.dataset = tr.ds;
    return body;
  }

  function requestProgram(delay = 250) {
    if (state.train.ds === "csv" && !csvText.trim()) {
      written = null;
      renderProgramState();
      return;
    }
    programLater.run(async () => {
      const seq = ++programSeq;
      if (programAbort) programAbort.abort();
      programAbort = new AbortController();
      try {
        const res = await trainApi.program(programBody(), programAbort.signal);
        if (seq !== programSeq) return;
        written = res;
        formError(null);
        renderProgramState();
        $("train-loss").value = currentLoss();
      } catch (err) {
        if (err.name === "AbortError" || seq !== programSeq) return;
        written = null; // (a stale program would train on data it was not written for)
        showRequestError(err);
      }
    }, delay);
  }

  const FIELD_INPUT = { hidden: "train-hidden", activation: "train-activation", weight_decay: "train-wd", seed: "train-seed",
    epochs: "train-epochs", batch_size: "train-batch", lr: "train-lr", optimizer: "train-optimizer", csv: "train-csv",
    target: "train-target", program: "train-program", dataset: "train-dataset", task: "train-loss" };

  // a 422 names its field in loc: mark that input; the message says the rest (with row and column)
  function showRequestError(err) {
    const d = err.first;
    const field = d && Array.isArray(d.loc) ? FIELD_INPUT[d.loc[d.loc.length - 1]] : null;
    const c = d && d.ctx ? d.ctx : {};
    let msg = err.message;
    if (err.status === 503) msg = `${err.message} ${t("train.busy", { seconds: err.retryAfter || 5 })}`;
    if (field === "train-program" && c.line) msg = t("train.program_error_at", { line: c.line, column: c.column || 1, msg: err.message });
    formError(msg, field);
  }

  // ---- a run ---------------------------------------------------------------------------------------
  // run: {seq, abort, start, epochs: [...], batches: [[x, loss]], progress, done, state, queue, end}
  function resetRun() {
    if (run && run.state === "running") cancel();
    run = null;
    view.dataset.state = "idle";
    view.dataset.epoch = "0";
    $("train-open-circuit").disabled = true;
    $("train-open-circuit").title = t("train.open_circuit_title");
    setStatus(t("train.status_idle"));
    scheduleDraw();
  }

  function setStatus(text, kind = "") {
    const s = $("train-status");
    s.textContent = text;
    s.dataset.kind = kind;
  }

  function trainBody() {
    const tr = state.train;
    const program = tr.program !== null ? tr.program : written && written.program;
    const body = { program, epochs: tr.epochs, batch_size: tr.batch, lr: tr.lr, optimizer: tr.optimizer, seed: tr.seed,
      full_parameters: true };
    if (tr.ds === "csv") {
      body.csv = csvText;
      if (tr.target) body.target = tr.target;
      if (tr.loss) body.task = tr.loss === "mse" ? "regression" : "classification";
    } else body.dataset = tr.ds;
    return body;
  }

  async function start() {
    if (run && run.state === "running") return;
    await ensureCatalogue();
    if (state.train.ds === "csv" && !csvText.trim()) {
      formError(t("train.csv_empty"), "train-csv");
      return;
    }
    const end = busy.begin("train-run");
    // the program the form writes must be there first (a click right after a change waits for it)
    if (state.train.program === null && (!written || programLater.pending)) {
      programLater.cancel();
      try {
        written = await trainApi.program(programBody());
        renderProgramState();
      } catch (err) {
        resetRun();
        view.dataset.state = "refused";
        showRequestError(err);
        end();
        return;
      }
    }
    const body = trainBody();
    const seq = ++runSeq;
    run = { seq, abort: new AbortController(), start: null, epochs: [], batches: [], progress: null, done: null,
      state: "running", queue: [], pumping: null, lastEpochAt: 0, end, error: null };
    formError(null);
    view.dataset.state = "running";
    view.dataset.epoch = "0";
    $("train-start").disabled = true;
    $("train-cancel").disabled = false;
    $("train-open-circuit").disabled = true;
    setStatus(t("train.status_starting"));
    scheduleDraw();
    const r = run;
    try {
      await trainStream(body, { signal: r.abort.signal, onEvent: (kind, payload) => {
        if (r.seq !== runSeq) return;
        r.queue.push([kind, payload]);
        pump(r);
      } });
    } catch (err) {
      if (r.seq !== runSeq) return;
      r.queue.length = 0;
      if (err.name === "AbortError") finish(r, "cancelled");
      else {
        r.error = err;
        finish(r, "refused");
        showRequestError(err);
      }
    }
  }

  function cancel() {
    if (!run || run.state !== "running") return;
    run.abort.abort(); // the stream closes: the server kills the run's process
    run.queue.length = 0;
    finish(run, "cancelled");
  }

  // Events are shown in order; epochs of a fast run at most every EPOCH_PACE_MS, so the curves and
  // the boundary can be watched as they form (at once with reduced motion).
  function pump(r) {
    if (r.pumping) return;
    while (r.queue.length) {
      const [kind, payload] = r.queue[0];
      if (kind === "epoch" && !reducedMotion()) {
        const wait = r.lastEpochAt + EPOCH_PACE_MS - performance.now();
        if (wait > 0) {
          r.pumping = busy.later(() => {
            r.pumping = null;
            if (r.seq === runSeq && r.state === "running") pump(r);
          }, wait, "train-pace");
          return;
        }
        r.lastEpochAt = performance.now();
      }
      r.queue.shift();
      apply(r, kind, payload);
      if (r.state !== "running") return;
    }
  }

  function reducedMotion() {
    return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function apply(r, kind, p) {
    if (kind === "start") {
      r.start = p;
      setStatus(t("train.status_running", { loss: "…" }));
    } else if (kind === "progress") {
      r.progress = p;
      if (r.start) r.batches.push([(p.step / r.start.steps_per_epoch), p.loss]);
      setStatus(t("train.status_running", { loss: fmt(p.loss, 4) }));
    } else if (kind === "epoch") {
      r.epochs.push(p);
      r.progress = { ...(r.progress || {}), epoch: p.epoch, step: p.step, steps: p.steps, elapsed: p.elapsed };
      view.dataset.epoch = String(p.epoch);
    } else if (kind === "done") {
      r.done = p;
      finish(r, "done");
    } else if (kind === "error") {
      r.error = p;
      finish(r, "error");
    }
    scheduleDraw();
  }

  function finish(r, how) {
    if (r.state !== "running") return;
    r.state = how;
    if (r.pumping) r.pumping.cancel();
    r.pumping = null;
    view.dataset.state = how;
    $("train-start").disabled = false;
    $("train-cancel").disabled = true;
    showOutcome(r);
    if (how === "done") enableOpen(r.done);
    scheduleDraw();
    r.end();
  }

  // the status line of a finished run (again after a language change)
  function showOutcome(r) {
    const how = r.state;
    const last = (a) => (a && a.length ? a[a.length - 1] : null);
    if (how === "done") {
      const d = r.done;
      if (d.stopped) setStatus(t("train.status_stopped", { reason: t(`train.stopped_${d.stopped}`) }), "warn");
      else if (d.task === "regression") {
        setStatus(t("train.status_done_regression", { mse: fmt(d.test_mse ?? last(d.train_loss), 4), epochs: d.epochs,
          seconds: fmt(d.seconds, 3) }), "ok");
      } else {
        const acc = last(d.test_accuracy) ?? last(d.train_accuracy);
        setStatus(t("train.status_done", { accuracy: acc === null ? "–" : `${(acc * 100).toFixed(1)}%`, epochs: d.epochs,
          seconds: fmt(d.seconds, 3) }), "ok");
        $("train-status").dataset.testAccuracy = String(acc);
      }
    } else if (how === "cancelled") setStatus(t("train.status_cancelled", { epochs: r.epochs.length }), "warn");
    else if (how === "error") {
      setStatus(t("train.status_error", { detail: r.error && r.error.detail ? String(r.error.detail) : "" }), "error");
    } else if (how === "refused") setStatus(t("train.status_refused"), "error");
  }

  // ---- open this step in the circuit -------------------------------------------------------------
  function openValues(d) {
    if (!d || !d.batch || !d.program) return null;
    const values = { ...d.parameters, X: d.batch.X, t: d.batch.t };
    if (Object.values(values).some((v) => !Array.isArray(v) && typeof v !== "number")) return null; // summarized
    return values;
  }

  function enableOpen(d) {
    const b = $("train-open-circuit");
    const values = openValues(d);
    if (!values) {
      b.disabled = true;
      b.title = t("train.open_unavailable");
      return;
    }
    const size = JSON.stringify({ expression: d.program, values }).length;
    const max = limits && limits.max_body_bytes;
    if (max && size > max) {
      b.disabled = true;
      b.title = t("train.open_too_big", { size: size.toLocaleString(), limit: max.toLocaleString() });
      return;
    }
    b.disabled = false;
    b.title = t("train.open_circuit_title");
  }

  async function openInCircuit() {
    const d = run && run.done;
    const values = openValues(d);
    if (!values) return;
    await ctx.applyState({ tab: "circuit", program: d.program, values });
  }

  // ---- drawing ---------------------------------------------------------------------------------------
  function scheduleDraw() {
    if (drawFrame) return;
    const end = busy.begin("train-draw");
    drawFrame = requestAnimationFrame(() => {
      drawFrame = null;
      try {
        if (state.tab === "train") draw();
      } finally {
        end();
      }
    });
  }

  function fs() {
    return state.present ? 15 : window.innerWidth >= 1700 ? 12.5 : 11;
  }

  // which cards the data calls for: the plane (2-D), test digits (images), the confusion matrix
  // (classification), accuracy (classification); set before anything is measured and drawn
  function layoutCards(r) {
    const start = r && r.start;
    const d = info(state.train.ds);
    const kind = start ? start.samples && start.samples.kind : d && d.preview ? d.preview.kind : null;
    const classify = (start ? start.task : taskOf()) === "classification";
    const plane = kind === "points", images = kind === "images";
    $("train-plane-card").hidden = !plane;
    $("train-digits-card").hidden = !images;
    $("train-confusion-card").hidden = !classify || plane;
    $("train-acc-card").hidden = !classify;
    view.querySelector(".train-grid").dataset.viz = plane ? "plane" : images ? "images" : classify ? "confusion" : "none";
    return { classify, plane, images };
  }

  function draw() {
    const r = run;
    const size = fs();
    const start = r && r.start;
    const { classify, plane, images } = layoutCards(r);
    const epochs = r ? r.epochs : [];
    const xMax = start ? start.epochs : state.train.epochs;
    drawProgress(r);
    const series = (key, label, color, dash) => ({ key, label, color, dash,
      points: epochs.filter((e) => e[key] !== null && e[key] !== undefined).map((e) => [e.epoch, e[key]]) });
    const lossLabel = classify ? t("train.chart_loss") : t("train.chart_mse");
    $("train-loss-title").textContent = lossLabel;
    drawLines($("train-loss-chart"), [
      { key: "batches", label: t("train.batches"), color: "#98a2b3", line: false, points: r ? r.batches : [] },
      series("train_loss", t("train.train_split"), TRAIN_COLOR),
      series("test_loss", t("train.test_split"), TEST_COLOR, "6 4"),
    ], { xMax, xLabel: t("train.epoch_axis"), empty: t("train.chart_empty"), fs: size, showLast: true, yZero: true });
    if (classify) {
      drawLines($("train-acc-chart"), [series("train_accuracy", t("train.train_split"), TRAIN_COLOR),
        series("test_accuracy", t("train.test_split"), TEST_COLOR, "6 4")],
      { xMax, xLabel: t("train.epoch_axis"), empty: t("train.chart_empty"), fs: size, percent: true, showLast: true });
    }
    drawNorms(epochs, xMax, size);
    drawSamples(r, size, { classify, plane, images });
  }

  function drawProgress(r) {
    const p = r && r.progress;
    const bar = $("train-progress");
    const frac = p && p.steps ? Math.min(1, p.step / p.steps) : r && r.state === "done" ? 1 : 0;
    $("train-progress-fill").style.transform = `scaleX(${frac})`;
    bar.setAttribute("aria-valuenow", String(Math.round(frac * 100)));
    bar.dataset.step = p ? String(p.step) : "0";
    let text = "";
    if (p && r.start) {
      text = t("train.progress", { epoch: p.epoch, epochs: r.start.epochs, step: p.step, steps: p.steps });
      if (r.state === "running" && p.step > 0) {
        const left = (p.elapsed / p.step) * (p.steps - p.step);
        text += ` · ${t("train.time_left", { elapsed: fmt(p.elapsed, 2), left: fmt(left, 2) })}`;
      } else if (r.done) text += ` · ${t("train.time_total", { seconds: fmt(r.done.seconds, 3) })}`;
    }
    $("train-progress-text").textContent = text;
  }

  // per-layer norms: the weight matrices (inputs of rank 2) when there are any, else every parameter
  function drawNorms(epochs, xMax, size) {
    const params = run && run.start ? run.start.parameters : {};
    let names = Object.keys(params).filter((n) => params[n].length === 2);
    if (!names.length) names = Object.keys(params);
    const mk = (kind) => names.map((n, i) => ({ key: `${kind}-${n}`, label: n, color: layerShade(kind, i, names.length),
      dash: i % 2 ? "5 3" : null, points: epochs.map((e) => [e.epoch, e.norms && e.norms[n] ? e.norms[n][kind] : null]) }));
    drawLines($("train-wnorm"), mk("weight"), { xMax, log: true, xLabel: t("train.epoch_axis"), empty: t("train.chart_empty"), fs: size });
    drawLines($("train-gnorm"), mk("grad"), { xMax, log: true, xLabel: t("train.epoch_axis"), empty: t("train.chart_empty"), fs: size });
  }

  function drawSamples(r, size, { plane, images }) {
    const start = r && r.start;
    const d = info(state.train.ds);
    const last = r && r.epochs.length ? r.epochs[r.epochs.length - 1] : null;
    const confusion = last && last.confusion ? last.confusion : r && r.done ? r.done.confusion : null;
    if (plane) {
      const pts = start && start.samples ? start.samples : d ? { points: d.preview.points, labels: d.preview.labels } : null;
      const names = start && start.dataset ? start.dataset.classes : d ? d.classes : null;
      drawPlane($("train-plane"), last && last.boundary ? last.boundary : null, pts,
        { fs: size, epoch: last ? last.epoch : "", empty: t("train.chart_empty"), pointRadius: state.present ? 4 : 3,
          legend: names && names.length <= 12 ? names : null,
          legendTitle: t(last && last.boundary ? "train.plane_legend" : "train.plane_legend_data") });
      $("train-plane").dataset.epoch = last && last.boundary ? String(last.epoch) : "";
    }
    if (images) drawDigits(start, last, r);
    if (!$("train-confusion-card").hidden) {
      const labels = start && start.dataset ? start.dataset.classes : d ? d.classes : null;
      drawConfusion($("train-confusion"), confusion, labels, { fs: size, empty: t("train.chart_empty"),
        rowsLabel: t("train.confusion_rows"), colsLabel: t("train.confusion_cols") });
    }
  }

  // the biggest thumbnails (up to 56 px) with which n of them fit the box, captions included
  function thumbSize(box, n, shape) {
    const W = box.clientWidth, H = box.clientHeight;
    const cap = state.present ? 22 : 18, gapX = 8, gapY = 6;
    const ratio = shape[0] / shape[1];
    for (let px = 56; px > 14; px -= 2) {
      const cols = Math.max(1, Math.floor((W + gapX) / (px + 4 + gapX)));
      const rows = Math.ceil(n / cols);
      if (rows * (px * ratio + 4 + cap + gapY) <= H) return px;
    }
    return 14;
  }

  function drawDigits(start, last, r) {
    const box = $("train-digits");
    const s = start && start.samples;
    const d = info(state.train.ds);
    const classes = start && start.dataset ? start.dataset.classes : d ? d.classes : [];
    box.replaceChildren();
    if (!s) {
      const p = $("train-digits-note");
      p.textContent = t("train.digits_before");
      return;
    }
    const predicted = last && last.predicted ? last.predicted : r && r.done && r.done.test_predictions ? r.done.test_predictions.predicted : null;
    const n = Math.min(SHOWN_DIGITS, s.images.length);
    const px = thumbSize(box, n, s.shape);
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      const label = classes[s.labels[i]] ?? s.labels[i];
      const guess = predicted ? classes[predicted[i]] ?? predicted[i] : null;
      if (guess !== null && String(guess) !== String(label)) wrong++;
      box.append(thumb(toRows(s.images[i], s.shape), label, guess, px));
    }
    $("train-digits-note").textContent = predicted ? t("train.digits_note", { wrong, count: n, epoch: last ? last.epoch : "" })
      : t("train.digits_waiting");
  }

  // ---- applying a shared state (URL, live rooms, lessons) -----------------------------------------
  async function applyTrain(p) {
    if (p.train && typeof p.train === "object") {
      const tr = p.train;
      if (tr.ds && tr.ds !== state.train.ds) setDataset(tr.ds, sanitize(tr));
      else {
        Object.assign(state.train, sanitize(tr));
        renderForm();
        if (state.train.program === null) requestProgram(0);
      }
    }
    if (p.tab === "train" || p.tab === "circuit") setTab(p.tab);
  }

  function sanitize(tr) {
    const out = {};
    if (Array.isArray(tr.hidden) && parseHidden(tr.hidden.join(","))) out.hidden = tr.hidden.map(Number);
    for (const [k, list] of [["activation", ACTIVATIONS], ["optimizer", OPTIMIZERS]]) if (list.includes(tr[k])) out[k] = tr[k];
    if (tr.loss === null || LOSSES.includes(tr.loss)) if ("loss" in tr) out.loss = tr.loss;
    for (const k of ["weightDecay", "lr", "batch", "epochs", "seed"]) if (Number.isFinite(tr[k])) out[k] = tr[k];
    if ("target" in tr) out.target = typeof tr.target === "string" ? tr.target : null;
    if ("program" in tr) out.program = typeof tr.program === "string" ? tr.program : null;
    return out;
  }

  // ---- wiring ------------------------------------------------------------------------------------
  $("tab-train").addEventListener("click", () => setTab("train"));
  $("tab-circuit").addEventListener("click", () => setTab("circuit"));
  $("train-dataset").addEventListener("change", () => setDataset($("train-dataset").value));
  $("train-hidden").addEventListener("input", () => {
    const h = parseHidden($("train-hidden").value);
    if (!h) {
      formError(t("train.bad_hidden"), "train-hidden");
      return;
    }
    formError(null);
    onField("hidden", h);
  });
  $("train-activation").addEventListener("change", () => onField("activation", $("train-activation").value));
  $("train-loss").addEventListener("change", () => {
    onField("loss", $("train-loss").value);
    resetRun();
  });
  $("train-optimizer").addEventListener("change", () => onField("optimizer", $("train-optimizer").value, { program: false }));
  numberField("train-wd", "weightDecay", { strict: false });
  numberField("train-seed", "seed", { integer: true, strict: false });
  numberField("train-lr", "lr");
  numberField("train-batch", "batch", { integer: true });
  numberField("train-epochs", "epochs", { integer: true });
  $("train-epochs").addEventListener("input", () => scheduleDraw());
  $("train-program").addEventListener("input", () => {
    state.train.program = $("train-program").value;
    renderProgramState();
    writeHashSoon();
  });
  $("train-program-reset").addEventListener("click", () => {
    state.train.program = null;
    written = null;
    renderProgramState();
    requestProgram(0);
    writeHashSoon();
  });
  $("train-csv").addEventListener("input", () => setCsv($("train-csv").value));
  $("train-csv-file").addEventListener("change", () => {
    const f = $("train-csv-file").files[0];
    if (f) readFile(f);
  });
  $("train-target").addEventListener("change", () => {
    state.train.target = $("train-target").value;
    renderPreview();
    resetRun();
    writeHashSoon();
    if (state.train.program === null) requestProgram(0);
  });
  $("train-start").addEventListener("click", () => start());
  $("train-cancel").addEventListener("click", () => cancel());
  $("train-open-circuit").addEventListener("click", () => openInCircuit());
  $("train-show-settings").addEventListener("click", () => {
    const on = !document.body.classList.contains("show-train-settings");
    document.body.classList.toggle("show-train-settings", on);
    $("train-show-settings").setAttribute("aria-expanded", String(on));
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && document.body.classList.contains("show-train-settings")) {
      document.body.classList.remove("show-train-settings");
      $("train-show-settings").setAttribute("aria-expanded", "false");
    }
  });
  bus.on("lang", () => {
    renderForm();
    renderPreview();
    if (run && run.state !== "running") showOutcome(run);
    else if (!run) setStatus(t("train.status_idle"));
    scheduleDraw();
  });
  bus.on("present", () => {
    document.body.classList.remove("show-train-settings");
    scheduleDraw();
  });
  bus.on("resize", () => scheduleDraw());
  // the charts are measured when drawn: draw again when their grid changes size (window, panels, fonts)
  let gridSize = "";
  new ResizeObserver(([entry]) => {
    const r = entry.contentRect;
    const key = `${Math.round(r.width)}x${Math.round(r.height)}`;
    if (key !== gridSize && r.width > 0) {
      gridSize = key;
      scheduleDraw();
    }
  }).observe(view.querySelector(".train-grid"));
  $("train-close-settings").addEventListener("click", () => {
    document.body.classList.remove("show-train-settings");
    $("train-show-settings").setAttribute("aria-expanded", "false");
  });
  ctx.onApply(applyTrain);

  // start from the URL (the controller reads only its own keys)
  renderForm();
  resetRun();
  const fromUrl = fromHash(location.hash);
  if (fromUrl && fromUrl.train) {
    const tr = sanitize(fromUrl.train);
    const ds = fromUrl.train.ds || "digits";
    state.train = { ...defaultsFor(ds), ...tr };
    renderForm();
  }
  if (fromUrl && fromUrl.tab === "train") setTab("train", false);

  Object.assign(ctx, { setTab, train: { start, cancel, openInCircuit, setDataset, state: () => run } });
}
