// Bootstrap: the controller (state, API, layout, circuit, editor, inputs, inspector) and the views
// that plug into it. A new view is one more `use(mountSomething)` (docs/page.md, "Extension points").
import { busyTasks, whenIdle } from "./busy.js";
import { createController } from "./controller.js";
import { mountControls } from "./controls.js";
import { fromHash, state } from "./state.js";
import { browserLanguage, loadStrings } from "./strings.js";
import { mountAnimation } from "./view-animation.js";
import { mountLessons } from "./view-lesson.js";
import { mountNarration } from "./view-narration.js";
import { mountQuiz } from "./view-quiz.js";
import { mountRoom } from "./view-room.js";
import { mountSweep } from "./view-sweep.js";
import { mountTraining } from "./view-training.js";
import { mountTrain } from "./view-train.js";

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const ctx = createController();

// Frame-time probe for the benchmark: rAF deltas over `ms` milliseconds.
function measureFrames(ms) {
  return new Promise((resolve) => {
    const deltas = [];
    const t0 = performance.now();
    let last = t0;
    const f = (now) => {
      deltas.push(now - last);
      last = now;
      if (now - t0 < ms) requestAnimationFrame(f);
      else resolve(deltas.slice(1));
    };
    requestAnimationFrame(f);
  });
}

// The page's programmatic interface (tests, benchmarks, and later live rooms and lessons).
window.backpropLab = {
  state,
  applyState: (partial) => ctx.applyState(partial),
  getState: () => ctx.snapshot(),
  whenIdle,
  busy: busyTasks,
  loadDocument: (doc, program) => ctx.loadDocument(doc, program),
  evaluateNow: (o) => ctx.evaluateNow(o),
  setPos: (p) => ctx.setPos(p),
  select: (id) => ctx.select(id),
  measureFrames,
  play: () => ctx.play(),
  pause: () => ctx.pause(),
  setSpeed: (s) => ctx.setSpeed(s),
  circuitStats: () => ctx.circuit.stats(),
  lastTimings: () => ctx.lastTimings || {},
  focusNode: (id) => ctx.circuit.focusNode(id),
  fold: (key) => ctx.fold(key),
  unfold: (key) => ctx.unfold(key),
  // quiz and lessons (docs/page.md, "Quiz mode"): what a live room's teacher drives
  setQuizMode: (m) => ctx.setQuizMode(m),
  quizQuestions: () => ctx.quizQuestions(),
  askQuestion: (k) => ctx.askQuestion(k),
  answerQuestion: (k, v) => ctx.answerQuestion(k, v),
  revealAnswer: (k) => ctx.revealAnswer(k),
  revealAll: () => ctx.revealAll(),
  currentQuestion: () => ctx.currentQuestion(),
  checkPrediction: (k, v) => ctx.checkPrediction(k, v),
  setQuizQuestion: (k) => ctx.askQuestion(k),
  openLesson: (id, step) => ctx.openLesson(id, step),
};

// the words first: every view writes text as it mounts (the link's language, else the browser's)
state.lang = await loadStrings((fromHash(location.hash) || {}).lang || browserLanguage());
ctx.mount();
ctx.circuit.setReducedMotion(reducedMotion.matches);
reducedMotion.addEventListener("change", () => ctx.circuit.setReducedMotion(reducedMotion.matches));
ctx.use(mountAnimation).use(mountNarration).use(mountTraining).use(mountSweep).use(mountControls).use(mountQuiz).use(mountLessons).use(mountRoom).use(mountTrain);

ctx.start().catch((err) => {
  console.error(err);
  const box = document.getElementById("program-error");
  box.hidden = false;
  box.textContent = `The page could not start: ${err.message}`; // (not from the catalogue: it may be what failed)
});
