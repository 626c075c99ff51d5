// An explicit page state for tests, benchmarks and live rooms: <body data-idle="true"> when no
// request is in flight, no debounce timer is pending, no layout is running and no animation or
// camera move is under way; "false" otherwise. Everything asynchronous the page starts goes
// through track() / later() / hold(), so "idle" means "the page has settled".
//
// A change caused by user input marks the page busy synchronously (inside the input handler), so
// a test that acts and then waits for data-idle=true never sees a stale "true".

let count = 0;
let gen = 0;
let settleTimer = null;
const waiters = [];
const holds = new Map(); // name -> count, for debugging (window.backpropLab.busy())

function mark() {
  const idle = count === 0;
  if (!idle) {
    cancelSettle();
    document.body.dataset.idle = "false";
    return;
  }
  if (settleTimer !== null) return;
  // Settle after two frames, so whatever the last task changed has been laid out and painted.
  const g = gen;
  settleTimer = requestAnimationFrame(() => {
    settleTimer = requestAnimationFrame(() => {
      settleTimer = null;
      if (count !== 0 || g !== gen) return;
      document.body.dataset.idle = "true";
      document.body.dataset.idleGen = String(gen);
      while (waiters.length) waiters.shift()();
    });
  });
}

function cancelSettle() {
  if (settleTimer !== null) {
    cancelAnimationFrame(settleTimer);
    settleTimer = null;
  }
}

/** Mark one task as started; returns a function that ends it (idempotent). */
export function begin(name = "task") {
  count++;
  gen++;
  holds.set(name, (holds.get(name) || 0) + 1);
  mark();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    count--;
    const c = holds.get(name) - 1;
    if (c) holds.set(name, c);
    else holds.delete(name);
    mark();
  };
}

/** The page is busy until the promise settles. Returns the promise. */
export function track(promise, name = "request") {
  const end = begin(name);
  promise.then(end, end);
  return promise;
}

/** setTimeout that keeps the page busy until it fires or is cancelled. */
export function later(fn, ms, name = "timer") {
  const end = begin(name);
  const id = setTimeout(() => {
    end();
    fn();
  }, ms);
  return { cancel() { clearTimeout(id); end(); } };
}

/** A named, restartable debounce: each call cancels the previous pending one. */
export function debouncer(name) {
  let pending = null;
  return {
    run(fn, ms) {
      if (pending) pending.cancel();
      pending = later(() => {
        pending = null;
        fn();
      }, ms, name);
    },
    cancel() {
      if (pending) pending.cancel();
      pending = null;
    },
    get pending() { return pending !== null; },
  };
}

/** A named throttle with a leading edge: the first call after a quiet `ms` runs at once; calls within
 * `ms` of the last run wait for the end of that window, and only the latest of them runs. A discrete
 * action (a preset, a lesson step) gets its answer without waiting; a slider drag still sends at
 * most one call per `ms`. */
export function throttler(name) {
  const wait = debouncer(name);
  let last = -Infinity;
  return {
    run(fn, ms) {
      const now = performance.now();
      const fire = () => {
        last = performance.now();
        fn();
      };
      if (!wait.pending && now - last >= ms) fire();
      else wait.run(fire, Math.max(0, last + ms - now));
    },
    cancel() { wait.cancel(); },
    get pending() { return wait.pending; },
  };
}

/** A resolved promise once the page is idle. */
export function whenIdle() {
  if (count === 0 && document.body.dataset.idle === "true") return Promise.resolve();
  return new Promise((r) => waiters.push(r));
}

export function busyTasks() {
  return Object.fromEntries(holds);
}

export function start() {
  mark();
}
