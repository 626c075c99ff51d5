// Quiz mode's bar under the circuit: the toggle and what to predict (gradients, values, both), the
// question where the animation stands, the prediction field, the check (relative tolerance), the
// hint after a wrong try (upstream × local, the upstream named by its label), the reveal (the answer
// and why), and the run's score. What stays hidden is decided in one place, quiz.js, through the
// masked document the controller hands every view; this view only asks, checks and reveals.
//
// Controller functions (ctx.*, and window.backpropLab.* for a live room):
//   setQuizMode(mode)            "off" | "grad" | "value" | "both" (a new run)
//   quizQuestions()              [{key, kind, node, name, at, revealed, answered, correct}]
//   askQuestion(key)             make it the current question (the animation goes to where it is asked)
//   answerQuestion(key, text)    check a prediction -> {valid, correct, tries}; a right one is revealed
//   revealAnswer(key)            reveal it (everything it hid shows; the animation takes the step)
//   revealAll()                  reveal every question of the run
//   currentQuestion()            the question on the bar now, with its answer (a teacher's page knows it):
//                                {key, kind, node, name, at, prompt, answer, answerText, rel_tol, abs_tol,
//                                 revealOnly, revealed} or null. The answer is the engine's number, from the
//                                unmasked document: show it to a teacher only, never send it to a participant.
//   checkPrediction(key, input)  check a prediction against a question without touching the run (a room's
//                                teacher grading participants) -> {valid, correct, value}
import { el } from "./dom.js";
import { fmtLocale } from "./format.js";
import { renderLessonText } from "./lesson-text.js";
import { currentOf, emptyQuiz, gradTerms, isRight, parsePrediction, QUIZ_MODES, scoreOf } from "./quiz.js";
import { formulaText, localGradText, nodeName, wrapName } from "./schedule.js";

const paren = (s) => (/^[\p{L}\p{N}_.·]+$/u.test(s) ? s : `(${s})`);

export function mountQuiz(ctx) {
  const { state, bus, $, t } = ctx;
  const box = $("quiz-box"), body = $("quiz-body");
  const toggle = $("btn-quiz");
  let feedback = null; // {key, kind: "right" | "wrong" | "nan" | "revealed", value}

  const quizOn = () => state.quiz.mode !== "off";
  const byKey = (key) => state.questions.find((q) => q.key === key) || null;
  const isRevealed = (key) => state.quiz.revealed.includes(key);
  const fmtN = (v) => (typeof v === "number" ? fmtLocale(v, state.lang, { digits: 6 }) : String(v ?? ""));

  // ---- controller functions ------------------------------------------------------------------
  function setQuizMode(mode) {
    if (!QUIZ_MODES.includes(mode)) mode = "off";
    feedback = null;
    return ctx.setQuiz(emptyQuiz(mode));
  }

  function quizQuestions() {
    const doc = state.fullDoc;
    return state.questions.map((q) => ({
      key: q.key, kind: q.kind, node: q.node, at: q.at, name: doc && q.node !== null && doc.nodes[q.node] ? nodeName(doc, q.node) : null,
      revealed: isRevealed(q.key), answered: !!state.quiz.answers[q.key], correct: !!(state.quiz.answers[q.key] || {}).correct,
    }));
  }

  function askQuestion(key) {
    const q = byKey(key);
    if (!q || isRevealed(key)) return false;
    state.quiz.current = key;
    feedback = null;
    bus.emit("quiz", { quiz: state.quiz });
    if (state.pos !== q.at) ctx.setPos(q.at);
    ctx.writeHashSoon();
    return true;
  }

  async function answerQuestion(key, input) {
    const q = byKey(key);
    if (!q || isRevealed(key) || q.revealOnly) return { valid: false, correct: false, tries: 0 };
    const v = typeof input === "number" ? input : parsePrediction(input);
    if (v === null) {
      feedback = { key, kind: "nan" };
      render();
      return { valid: false, correct: false, tries: (state.quiz.answers[key] || {}).tries || 0 };
    }
    const a = state.quiz.answers[key] || { tries: 0, correct: false, last: null };
    a.tries += 1;
    a.last = v;
    a.correct = isRight(v, q);
    state.quiz.answers[key] = a;
    feedback = { key, kind: a.correct ? "right" : "wrong", value: v };
    if (a.correct) await revealAnswer(key, { keepFeedback: true });
    else {
      bus.emit("quiz", { quiz: state.quiz });
      render();
    }
    return { valid: true, correct: a.correct, tries: a.tries };
  }

  async function revealAnswer(key, { keepFeedback = false } = {}) {
    const q = byKey(key);
    if (!q) return false;
    if (!isRevealed(key)) state.quiz.revealed.push(key);
    if (state.quiz.current === key) state.quiz.current = null;
    if (!keepFeedback || !feedback || feedback.key !== key) feedback = { key, kind: "revealed" };
    lastRevealed = q;
    bus.emit("quiz", { quiz: state.quiz });
    await ctx.refresh();
    // the step the question held back: take it, so the revealed number flows in
    const target = q.lesson && q.lesson.question ? q.lesson.question.reveal_pos : q.at + 1;
    if (!q.loading && state.pos === q.at && target > q.at) ctx.setPos(target, { animate: true, from: q.at });
    render();
    return true;
  }

  function currentQuestion() {
    if (!quizOn() || !state.fullDoc) return null;
    const q = currentOf(state.questions, state.quiz, state.pos ?? 0);
    if (!q) return null;
    const doc = state.fullDoc;
    return {
      key: q.key, kind: q.kind, node: q.node, at: q.at, name: q.node !== null && doc.nodes[q.node] ? nodeName(doc, q.node) : null,
      prompt: promptOf(q).textContent, answer: typeof q.answer === "number" ? q.answer : null, answerText: answerOf(q),
      rel_tol: q.rel_tol ?? null, abs_tol: q.abs_tol ?? null, revealOnly: !!q.revealOnly, revealed: isRevealed(q.key),
    };
  }

  function checkPrediction(key, input) {
    const q = byKey(key);
    const v = typeof input === "number" ? input : parsePrediction(input);
    if (!q || q.revealOnly || v === null || !Number.isFinite(v)) return { valid: false, correct: false, value: v };
    return { valid: true, correct: isRight(v, q), value: v };
  }

  async function revealAll() {
    state.quiz.revealed = [...new Set([...state.quiz.revealed, ...state.questions.map((q) => q.key)])];
    state.quiz.current = null;
    bus.emit("quiz", { quiz: state.quiz });
    await ctx.refresh();
    render();
  }

  // ---- the bar ---------------------------------------------------------------------------------
  let lastRevealed = null; // the question revealed last: its answer and why stay on the bar

  function promptOf(q) {
    const doc = state.fullDoc;
    if (q.lesson && q.lesson.question) return renderLessonText(el("span"), q.lesson.question.prompt, state.lang);
    if (q.lesson || q.loading) return el("span", {}, t(q.loading ? "quiz.loading" : "quiz.reveal_step_text"));
    const name = nodeName(doc, q.node);
    const s = q.kind === "grad" ? t("quiz.predict_gradient", { output: doc.output, name: wrapName(name) })
      : t("quiz.predict_value", { name });
    return el("span", {}, q.revealOnly ? `${s} ${t("quiz.think")}` : s);
  }

  // The hint: for a gradient, upstream × local for every use of the node (the upstream gate by its
  // label or sub-expression); for a value, the gate's formula with its operands' values.
  function hintOf(q) {
    const doc = state.fullDoc, sched = state.schedule;
    if (q.lesson) return q.lesson.question ? renderLessonText(el("span"), q.lesson.question.hint, state.lang) : null;
    const f = doc.output, name = wrapName(nodeName(doc, q.node));
    if (q.kind === "grad") {
      const terms = gradTerms(doc, sched, q.node);
      if (terms.length === 1 && terms[0].upstream === doc.output_id) {
        // the gate right before the output: upstream × local would read ∂f/∂f · ∂f/∂s (circular)
        const local = localGradText(doc, terms[0].upstream, state.ops, terms[0].index) ?? "?";
        return el("span", {}, t("quiz.hint_direct", { output: f, name, local }));
      }
      const chain = terms.map((x) => {
        const up = wrapName(nodeName(doc, x.upstream));
        return `∂${f}/∂${up} · ∂${up}/∂${name}`;
      }).join(" + ");
      // the upstream gradient is revealed already; the local one is given as the gate's formula
      const nums = terms.map((x) => `${fmtN(x.grad)} × ${paren(localGradText(doc, x.upstream, state.ops, x.index) ?? "?")}`).join(" + ");
      return el("span", {}, t(terms.length > 1 ? "quiz.hint_fork" : "quiz.hint_grad", { output: f, name, chain, numbers: nums, count: terms.length }));
    }
    const n = doc.nodes[q.node];
    const values = n.operands.filter((o) => doc.nodes[o].op !== "const")
      .map((o) => `${nodeName(doc, o)} = ${fmtN(doc.nodes[o].value)}`).join(", ");
    return el("span", {}, t("quiz.hint_value", { formula: `${nodeName(doc, q.node)} = ${formulaText(doc, q.node, state.ops)}`, values }));
  }

  // After the reveal: the answer, and why (a lesson's misconception; else the rule of the gate).
  function whyOf(q) {
    const doc = state.fullDoc;
    if (q.lesson) return q.lesson.question ? renderLessonText(el("span"), q.lesson.question.misconception, state.lang) : null;
    const gate = q.kind === "grad" ? gradTerms(doc, state.schedule, q.node).map((x) => doc.nodes[x.upstream].op)[0] : doc.nodes[q.node].op;
    const rule = gate ? t(`op.${gate}.rule`) : null;
    return rule && rule !== `op.${gate}.rule` ? el("span", {}, t("quiz.rule", { rule })) : null;
  }

  function answerOf(q) {
    if (q.lesson && q.lesson.question && typeof q.answer !== "number") return q.lesson.question.answer_text;
    return typeof q.answer === "number" ? fmtLocale(q.answer, state.lang, { digits: 8 }) : "";
  }

  function render() {
    document.body.classList.toggle("quiz-on", quizOn());
    toggle.setAttribute("aria-pressed", quizOn() ? "true" : "false");
    $("quiz-mode").value = quizOn() ? state.quiz.mode : "grad";
    if (!quizOn() || !state.fullDoc) {
      box.hidden = true;
      body.replaceChildren();
      return;
    }
    box.hidden = false;
    const q = currentOf(state.questions, state.quiz, state.pos ?? 0);
    const parts = [];
    const score = scoreOf(state.quiz);
    const scoreEl = el("span", { class: "quiz-score", testid: "quiz-score", "data-right": String(score.right),
      "data-asked": String(score.asked) }, t("quiz.score", { right: score.right, asked: score.asked }));
    if (q) {
      const row = el("div", { class: "quiz-row" });
      const prompt = el("span", { class: "quiz-prompt", testid: "quiz-prompt" });
      prompt.append(promptOf(q));
      row.append(prompt);
      if (!q.revealOnly) {
        const input = el("input", { class: "quiz-input", testid: "quiz-input", type: "text", inputmode: "decimal",
          autocomplete: "off", "aria-label": t("quiz.input_aria") });
        const check = el("button", { class: "btn primary", type: "button", testid: "quiz-check" }, t("quiz.check"));
        const submit = () => answerQuestion(q.key, input.value);
        check.addEventListener("click", submit);
        input.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter") {
            ev.preventDefault();
            submit();
          }
        });
        row.append(input, check);
        queueMicrotask(() => {
          if (document.activeElement === document.body || !document.activeElement) input.focus({ preventScroll: true });
        });
      }
      const reveal = el("button", { class: "btn", type: "button", testid: "quiz-reveal" },
        q.lesson && !q.lesson.question ? t("quiz.reveal_step") : t("quiz.reveal"));
      reveal.addEventListener("click", () => revealAnswer(q.key));
      if (q.loading) reveal.disabled = true;
      row.append(reveal, scoreEl);
      parts.push(row);
      if (feedback && feedback.key === q.key) {
        const fb = el("div", { class: `quiz-feedback ${feedback.kind}`, testid: "quiz-feedback", "data-kind": feedback.kind });
        if (feedback.kind === "nan") fb.append(t("quiz.not_a_number"));
        else if (feedback.kind === "wrong") {
          fb.append(el("b", {}, t("quiz.wrong")), " ");
          const hint = hintOf(q);
          if (hint) {
            const h = el("span", { testid: "quiz-hint" });
            h.append(t("quiz.hint_label"), " ", hint);
            fb.append(h);
          }
        }
        parts.push(fb);
      }
    } else {
      const row = el("div", { class: "quiz-row" });
      const left = state.questions.filter((x) => !isRevealed(x.key));
      const msg = left.length ? t("quiz.next", { pos: left[0].at }) : t("quiz.done");
      row.append(el("span", { class: "quiz-prompt muted", testid: "quiz-prompt" }, msg), scoreEl);
      if (left.length > 1) {
        const all = el("button", { class: "btn small-btn", type: "button", testid: "quiz-reveal-all" }, t("quiz.reveal_all"));
        all.addEventListener("click", () => revealAll());
        row.append(all);
      }
      parts.push(row);
    }
    // the question revealed last: its answer and why
    if (lastRevealed && isRevealed(lastRevealed.key) && (!q || q.key !== lastRevealed.key) && state.questions.some((x) => x.key === lastRevealed.key)) {
      const r = lastRevealed;
      const fb = el("div", { class: `quiz-feedback ${feedback && feedback.key === r.key ? feedback.kind : "revealed"}`, testid: "quiz-answer" });
      if (feedback && feedback.key === r.key && feedback.kind === "right") fb.append(el("b", {}, t("quiz.right")), " ");
      const ans = answerOf(r);
      // (a question the bar has moved past: name what was answered)
      const what = !r.lesson && r.node !== null && state.fullDoc && state.fullDoc.nodes[r.node]
        ? (r.kind === "grad" ? `∂${state.fullDoc.output}/∂${wrapName(nodeName(state.fullDoc, r.node))}` : nodeName(state.fullDoc, r.node)) : null;
      const answerLine = what ? t("quiz.answer_named", { what, answer: ans }) : t("quiz.answer", { answer: ans });
      if (ans) fb.append(el("span", { testid: "quiz-answer-value", "data-value": String(r.answer) }, answerLine), " ");
      const why = whyOf(r);
      if (why) {
        const w = el("span", { class: "quiz-why", testid: "quiz-why" });
        w.append(why);
        fb.append(w);
      }
      parts.push(fb);
    }
    // a prediction being typed survives a re-render of the same question
    const typed = box.dataset.question === (q && q.key) ? body.querySelector(".quiz-input") : null;
    const keep = typed ? { value: typed.value, focused: document.activeElement === typed } : null;
    body.replaceChildren(...parts);
    if (q) box.dataset.question = q.key;
    else delete box.dataset.question;
    const input = body.querySelector(".quiz-input");
    if (input && keep) {
      input.value = keep.value;
      if (keep.focused) input.focus({ preventScroll: true });
    }
  }

  // ---- wiring ----------------------------------------------------------------------------------
  toggle.addEventListener("click", () => setQuizMode(quizOn() ? "off" : $("quiz-mode").value || "grad"));
  $("quiz-mode").addEventListener("change", () => {
    if (quizOn()) setQuizMode($("quiz-mode").value);
  });
  bus.on("quiz", ({ quiz }) => {
    if (!quiz.revealed.length) lastRevealed = null;
    render();
  });
  bus.on("doc", () => render());
  bus.on("pos", () => render());
  bus.on("lang", () => render());

  Object.assign(ctx, { quizOn, setQuizMode, quizQuestions, askQuestion, answerQuestion, revealAnswer, revealAll,
    currentQuestion, checkPrediction });
}
