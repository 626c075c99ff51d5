// Lessons (docs/lessons.md): the picker (GET /api/v1/lessons in the page's language), and the open
// lesson's card under the circuit: the step's title and narration, its source (article and section),
// its question, a link for its optimizer run or the training lab, Previous / Next. A step sets the
// circuit through ctx.applyState (program, values, animation position, numerical check), selects its
// node and highlights its nodes and edges. The open lesson and step are state.lesson ({id, step}, in
// the URL as lesson=<id>&lstep=N); the step's data is state.lessonData (the quiz reads its question).
import { el } from "./dom.js";
import { fmtLocale } from "./format.js";
import { renderLessonText, writeRich } from "./lesson-text.js";

export function mountLessons(ctx) {
  const { state, bus, $, api, busy, t } = ctx;
  const select = $("lesson-select");
  const box = $("lesson-box");
  let loading = null; // {id, lang, promise}

  // ---- the picker ------------------------------------------------------------------------------
  async function loadList() {
    try {
      state.lessons = await api.lessons(state.lang);
    } catch (err) {
      console.error(err);
      state.lessons = [];
    }
    const keep = select.value;
    const first = document.createElement("option");
    first.value = "";
    first.textContent = t("lesson.choose");
    select.replaceChildren(first, ...state.lessons.map((l) => {
      const o = document.createElement("option");
      o.value = l.id;
      o.textContent = t("lesson.option", { order: l.order, title: l.title.replace(/`/g, ""), steps: l.steps });
      return o;
    }));
    select.value = state.lesson ? state.lesson.id : keep && state.lessons.some((l) => l.id === keep) ? keep : "";
  }

  select.addEventListener("change", () => {
    const id = select.value;
    ctx.applyState({ lesson: id ? { id, step: 0 } : null });
  });

  // ---- the lesson's data --------------------------------------------------------------------------
  function loadLesson(id) {
    const lang = state.lang;
    if (state.lessonData && state.lessonData.id === id && state.lessonData.lang === lang) return Promise.resolve(state.lessonData);
    if (loading && loading.id === id && loading.lang === lang) return loading.promise;
    const promise = api.lesson(id, lang).then((data) => {
      if (loading && loading.promise === promise) loading = null;
      state.lessonData = data;
      return data;
    });
    loading = { id, lang, promise };
    return busy.track(promise, "lesson");
  }

  function currentStep() {
    const d = state.lessonData;
    return d && state.lesson && d.id === state.lesson.id ? d.steps[state.lesson.step] || null : null;
  }

  // Put a step on the circuit: its program and values (replacing the learner's), the numerical check,
  // the animation position; then its selection and highlights.
  async function applyStep(step) {
    await ctx.applyState({ program: step.program, values: step.values, numericCheck: !!step.numeric_check,
      pos: step.animation ? step.animation.pos : null, folded: [] });
    if (currentStep() !== step) return;
    ctx.select(step.select && state.doc && state.doc.nodes[step.select.node] ? step.select.node : null);
    highlight(step);
  }

  function highlight(step) {
    if (!ctx.circuit.setHighlight) return;
    if (!step) {
      ctx.circuit.setHighlight(null);
      return;
    }
    ctx.circuit.setHighlight({
      nodes: (step.highlight ? step.highlight.nodes : []).map((n) => n.node),
      edges: (step.highlight ? step.highlight.edges : []).map((e) => e.id),
    });
  }

  async function onLesson({ lesson, applied = {} }) {
    if (!lesson) {
      box.hidden = true;
      box.replaceChildren();
      select.value = "";
      highlight(null);
      document.body.classList.remove("lesson-open");
      return;
    }
    select.value = lesson.id;
    document.body.classList.add("lesson-open");
    let data;
    try {
      data = await loadLesson(lesson.id);
    } catch (err) {
      box.hidden = false;
      box.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: err.message }));
      return;
    }
    if (!state.lesson || state.lesson.id !== data.id) return;
    if (state.lesson.step >= data.steps.length) state.lesson = { id: data.id, step: data.steps.length - 1 };
    const step = data.steps[state.lesson.step];
    render();
    // a snapshot (a URL with its own program, a teacher's page) brings the circuit with it
    if (typeof applied.program === "string") {
      await ctx.refresh();
      highlight(step);
    } else await applyStep(step);
    render();
    bus.emit("quiz", { quiz: state.quiz });
  }

  function go(k) {
    const d = state.lessonData;
    if (!d || !state.lesson) return Promise.resolve();
    const step = Math.max(0, Math.min(d.steps.length - 1, k));
    if (step === state.lesson.step) return Promise.resolve();
    return ctx.applyState({ lesson: { id: d.id, step } });
  }

  // ---- the card ------------------------------------------------------------------------------

  function button(label, testid, fn, title = null) {
    const b = el("button", { class: "btn", type: "button", testid }, label);
    if (title) b.title = title;
    b.addEventListener("click", fn);
    return b;
  }

  // The question's family stays hidden in quiz mode until the question is revealed.
  function hiddenFamily(step) {
    if (!ctx.quizOn() || !step) return null;
    if (state.quiz.revealed.includes(`lesson:${state.lesson.id}:${state.lesson.step}`)) return null;
    return step.question ? step.question.family : "gradient";
  }

  function render() {
    const d = state.lessonData, step = currentStep();
    if (!d || !step) return;
    box.hidden = false;
    const lang = state.lang;
    const n = d.steps.length, k = state.lesson.step;
    const head = el("div", { class: "lesson-head" });
    const title = el("span", { class: "lesson-title", testid: "lesson-title" });
    writeRich(title, `${d.order}. ${d.title}`);
    const count = el("span", { class: "lesson-count", testid: "lesson-count" }, t("lesson.step", { k: k + 1, n }));
    const prev = button(t("lesson.previous"), "lesson-prev", () => go(k - 1));
    prev.disabled = k === 0;
    const next = button(t("lesson.next"), "lesson-next", () => go(k + 1));
    next.disabled = k === n - 1;
    next.classList.add("primary");
    const exit = button("✕", "lesson-exit", () => ctx.applyState({ lesson: null }), t("lesson.exit"));
    exit.setAttribute("aria-label", t("lesson.exit"));
    head.append(title, count, prev, next, exit);

    const stepTitle = writeRich(el("h3", { class: "lesson-step-title", testid: "lesson-step-title" }), step.title);
    const family = hiddenFamily(step);
    const narration = el("p", { class: "lesson-narration", testid: "lesson-narration" });
    renderLessonText(narration, step.narration, lang, family ? (ph) => ph.family === family : null);
    narration.dataset.masked = family ? "true" : "false";
    const parts = [head, stepTitle, narration];

    // the question, when quiz mode is off (quiz mode asks it in the quiz bar, before the answer shows)
    if (step.question && !ctx.quizOn()) {
      const q = el("div", { class: "lesson-question", testid: "lesson-question" });
      const label = el("b", {}, `${t("lesson.question")} `);
      q.append(label, renderLessonText(el("span"), step.question.prompt, lang));
      const det = el("details", { class: "lesson-answer", testid: "lesson-answer" });
      det.append(el("summary", {}, t("lesson.show_answer")));
      const ans = el("div", {}, t("quiz.answer", { answer: answerText(step.question, lang) }));
      det.append(ans, renderLessonText(el("div", { class: "muted" }), step.question.misconception, lang));
      q.append(det);
      parts.push(q);
    }

    const meta = el("div", { class: "lesson-meta" });
    const src = step.source;
    if (src) {
      const s = el("span", { class: "lesson-source", testid: "lesson-source" });
      const section = src.printed && src.printed !== src.section_title ? `${src.section_title} (${src.printed})` : src.section_title;
      s.textContent = t("lesson.source", { article: src.article_title, section });
      meta.append(s);
    }
    if (step.optimize) {
      const o = step.optimize;
      meta.append(button(t("lesson.run_optimizer", { steps: o.steps, size: fmtLocale(o.step_size, lang) }), "lesson-optimize", () => {
        $("opt-mode").value = o.mode;
        $("opt-size").value = String(o.step_size);
        $("opt-n").value = String(o.steps);
        ctx.optimize(o.mode, o.steps);
      }));
    }
    if (d.training_lab) {
      const a = el("a", { class: "btn", testid: "lesson-lab", href: d.training_lab }, t("lesson.training_lab"));
      meta.append(a);
    }
    if (meta.childNodes.length) parts.push(meta);
    box.replaceChildren(...parts);
    box.dataset.lesson = d.id;
    box.dataset.step = String(k);
    box.dataset.lang = d.lang || lang;
  }

  function answerText(q, lang) {
    if (typeof q.answer === "number") return fmtLocale(q.answer, lang);
    return q.answer_text;
  }

  // ---- a worked example's source (presets carry {article_title, section_title} in both languages) --
  function presetSource(preset) {
    const notes = $("preset-notes");
    notes.querySelector(".preset-source")?.remove();
    if (!preset || !Array.isArray(preset.sources) || !preset.sources.length || notes.dataset.presetId !== preset.id) return;
    const pick = (x) => (x && typeof x === "object" ? x[state.lang] ?? x.en : x) ?? "";
    const line = el("span", { class: "preset-source", testid: "preset-source" });
    const byArticle = new Map(); // one line per article, its sections in the article's order
    for (const src of preset.sources) {
      const article = pick(src.article_title), section = pick(src.section_title);
      if (!byArticle.has(article)) byArticle.set(article, []);
      byArticle.get(article).push(src.printed && src.printed !== section ? `${section} (${src.printed})` : section);
    }
    line.textContent = [...byArticle].map(([article, sections]) => t("presets.source", { article, section: sections.join(", ") })).join("; ");
    notes.appendChild(line);
  }
  bus.on("preset", ({ preset }) => presetSource(preset));
  bus.on("lang", () => presetSource(state.presets.find((p) => p.id === state.presetId)));

  // The handling of the last "lesson" event (its step's data loaded, the quiz showing the step's question):
  // lessonSettled() settles when it has, and when any lesson opened meanwhile has too. A live room's reloaded
  // teacher page waits for it: the step's question has its answer only once the data is on the page.
  let opening = Promise.resolve();
  bus.on("lesson", (ev) => {
    opening = busy.track(onLesson(ev).catch((err) => console.error(err)), "lesson-open");
  });
  async function lessonSettled() {
    for (let p = null; p !== opening;) {
      p = opening;
      await p;
    }
  }
  bus.on("quiz", () => render());
  bus.on("lang", () => busy.track((async () => {
    await loadList();
    if (state.lesson) {
      await loadLesson(state.lesson.id);
      render();
      await ctx.refresh();
    }
  })(), "lesson-lang"));
  bus.on("ready", () => busy.track(loadList(), "lesson-list"));
  bus.on("doc", ({ rebuilt }) => {
    if (rebuilt && state.lesson) highlight(currentStep()); // a rebuilt circuit gets the step's highlights again
  });

  Object.assign(ctx, { lessonStep: currentStep, lessonGo: go, lessonSettled,
    openLesson: (id, step = 0) => ctx.applyState({ lesson: { id, step } }) });
}
