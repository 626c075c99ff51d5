// Live rooms on the page (issue 13, docs/rooms.md "For teachers"): the "Live room" menu (start a room;
// join one by code with a display name), the teacher's join card (join URL, code, the server's QR
// code, who joined), the room bar under the circuit (status, detach / re-sync, the question put to
// the room, the answers as a live histogram, the reveal, each participant's result).
//
// The teacher's page sends its view (room.js roomStateOf: program, values, lesson and step, animation
// position, selection, quiz) on every change, throttled and size-bounded; a participant's page applies
// what changed through ctx.applyState unless the participant detached. The model (REST calls, secrets,
// the sender, the stream) is room.js; the page's state is state.room (state.js; its code is in the
// hash as room=CODE, its secrets only in sessionStorage). Names and titles are text (textContent).
//
// Events: emits "room" {room} whenever state.room changes.
import { el } from "./dom.js";
import { begin } from "./busy.js";
import { fmtLocale } from "./format.js";
import { parsePrediction } from "./quiz.js";
import {
  createStateSender, followedPartOf, followRoom, isRightAnswer, normalizeCode, questionId, RoomError, roomApi, roomStateOf,
  secrets,
} from "./room.js";
import { fromHash } from "./state.js";

const POLL_MS = 1000;       // the teacher's tally while a question is open
const POLL_AFTER_MS = 3000; // ... and after its reveal (late answers)
const MAX_BARS = 12;        // histogram bars (the most common answers; the rest are counted)
const MAX_NAMES = 30;       // names on the join card (the latest)

export function mountRoom(ctx) {
  const { state, bus, $, t } = ctx;
  const button = $("btn-room"), menu = $("room-menu"), card = $("room-card"), box = $("room-box");
  const codeInput = $("room-code-input"), nameInput = $("room-name-input"), titleInput = $("room-title-input");

  // the teacher's page
  let teacherKey = null, sender = null, ask = null, secret = null, tally = null, pollTimer = null, names = [];
  let resuming = false; // a reloaded teacher page is taking its open question back (resumeQuestion)
  // a participant's page
  let token = null, latest = null, applied = null, applying = false, queued = null, answerInfo = null;
  const myAnswers = new Map(); // question id -> the value this participant sent
  let stream = null;

  const fmtN = (v) => (typeof v === "number" ? fmtLocale(v, state.lang, { digits: 6 }) : String(v ?? ""));
  const role = () => (state.room ? state.room.role : null);

  const statusLog = []; // the stream's statuses as they came (the last 20), for tests and debugging
  function setRoom(patch) {
    if (patch && patch.status && (!state.room || state.room.status !== patch.status)) {
      statusLog.push(patch.status);
      if (statusLog.length > 20) statusLog.shift();
    }
    state.room = patch === null ? null : { ...(state.room || {}), ...patch };
    bus.emit("room", { room: state.room });
    render();
  }

  // ---- the menu: start, join ------------------------------------------------------------------------
  function openMenu(focus = null) {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (focus) focus.focus();
  }
  function closeMenu() {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (role() === "pending") setRoom(null); // a link's code nobody joined: out of the hash
    ctx.writeHashSoon();
  }
  function menuInfo(text, kind = "info") {
    const info = $("room-menu-info");
    info.textContent = text;
    info.dataset.kind = kind;
  }

  button.addEventListener("click", () => {
    if (role() === "teacher") setRoom({ cardOpen: !state.room.cardOpen });
    else if (menu.hidden) openMenu(role() === "participant" ? null : titleInput);
    else closeMenu();
  });
  $("room-menu-close").addEventListener("click", closeMenu);
  menu.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") closeMenu();
  });
  $("room-start").addEventListener("click", () => startRoom());
  titleInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") startRoom();
  });
  $("room-join").addEventListener("click", () => joinRoom());
  for (const inp of [codeInput, nameInput]) {
    inp.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") joinRoom();
    });
  }

  function errorText(err) {
    if (!(err instanceof RoomError)) return String(err && err.message ? err.message : err);
    if (err.status === 0) return t("room.error_network");
    if (err.status === 404) return t("room.error_no_room");
    if (err.status === 409) return t("room.error_full");
    if (err.status === 429) return t("room.error_wait", { seconds: err.retryAfter || 1 });
    if (err.status === 503) return t("room.error_unavailable", { message: err.message });
    return err.message;
  }

  async function startRoom() {
    menuInfo(t("room.starting"));
    try {
      const r = await roomApi.create(titleInput.value.trim());
      secrets.setTeacherKey(r.code, r.teacher_key);
      becomeTeacher({ code: r.code, title: r.title, joinUrl: r.join_url, qrUrl: r.qr_url }, r.teacher_key);
      menuInfo("");
      closeMenu();
    } catch (err) {
      menuInfo(errorText(err), "error");
    }
  }

  async function joinRoom() {
    const code = normalizeCode(codeInput.value);
    if (!code) return menuInfo(t("room.error_code"), "error");
    const name = nameInput.value.trim();
    if (!name) {
      nameInput.focus();
      return menuInfo(t("room.error_name"), "error");
    }
    menuInfo(t("room.joining"));
    try {
      const r = await roomApi.join(code, name);
      secrets.setParticipant(code, r.participant, r.name);
      becomeParticipant(code, r.participant, r.name);
      menuInfo("");
      closeMenu();
    } catch (err) {
      menuInfo(err.status === 422 ? t("room.error_bad_name", { message: err.message }) : errorText(err), "error");
    }
  }

  // A code from a link (#room=CODE) or typed: resume this tab's role in it, else offer to join.
  async function arrive(rawCode) {
    const code = normalizeCode(rawCode);
    if (!code || (state.room && state.room.code === code && role() !== "pending")) return;
    const key = secrets.teacherKey(code), me = secrets.participant(code);
    try {
      const info = await roomApi.info(code);
      if (key) return becomeTeacher({ code, title: info.title, joinUrl: info.join_url, qrUrl: info.qr_url }, key, false, info.state);
      if (me) return becomeParticipant(code, me.token, me.name);
      setRoom({ role: "pending", code });
      codeInput.value = code;
      menuInfo(t("room.join_title", { title: info.title, count: info.participants }));
      openMenu(nameInput);
    } catch (err) {
      if (err.status === 404) {
        secrets.forgetTeacher(code);
        secrets.forgetParticipant(code);
      }
      setRoom({ role: "pending", code });
      codeInput.value = code;
      menuInfo(errorText(err), "error");
      openMenu(codeInput);
    }
  }

  // ---- both roles -------------------------------------------------------------------------------------
  function stopAll() {
    if (stream) stream.close();
    stream = null;
    if (sender) sender.stop();
    sender = null;
    stopPolling();
    teacherKey = token = latest = applied = ask = secret = tally = answerInfo = null;
    names = [];
    myAnswers.clear();
    document.body.classList.remove("room-following", "room-teacher");
  }

  function ended(reason) {
    const code = state.room && state.room.code;
    if (code) {
      secrets.forgetTeacher(code);
      secrets.forgetParticipant(code);
    }
    const was = role();
    stopAll();
    setRoom({ role: "ended", was, code: null, status: "closed", reason, cardOpen: false });
    ctx.writeHashSoon();
  }

  // ---- the teacher --------------------------------------------------------------------------------------
  // `resumed`: the room's state when a reloaded teacher page takes the room back (its open question
  // is restored from it: resumeQuestion)
  function becomeTeacher(info, key, fresh = true, resumed = null) {
    stopAll();
    teacherKey = key;
    document.body.classList.add("room-teacher");
    setRoom({ role: "teacher", code: info.code, title: info.title, joinUrl: info.joinUrl, qrUrl: info.qrUrl,
      participants: 0, status: "connecting", cardOpen: fresh, problem: null, detached: false });
    const code = info.code;
    sender = createStateSender({
      put: (json) => roomApi.putState(code, key, json),
      onSent: () => state.room && state.room.problem && setRoom({ problem: null }),
      onProblem: (p) => {
        if (p.status === 404) return ended("expired");
        setRoom({ problem: p });
      },
    });
    stream = followRoom(code, {
      onState: () => {},
      onRoom: (n) => {
        if (!state.room || n === state.room.participants) return;
        setRoom({ participants: n });
        refreshNames();
      },
      onClosed: (reason) => ended(reason),
      onStatus: (s) => setRoom({ status: s }),
    });
    const open = resumed && typeof resumed === "object" && resumed.ask && typeof resumed.ask === "object"
      && typeof resumed.ask.id === "string" && typeof resumed.ask.key === "string" ? resumed : null;
    if (open) resumeQuestion(open);
    else sendState();
    refreshNames();
    ctx.writeHashSoon();
  }

  // A lesson step's question has its answer only once the step's data is on the page, and the page's own request
  // for it (started on load, before the room's state came) may end after a room state was applied: until then the
  // quiz asks a placeholder without an answer and holds the animation at its start (quiz.js questionsOf). Wait
  // for the step, then take the room's position `pos` back (if `still()`): a reloaded teacher (resumeQuestion)
  // and a participant applying the room's state (applyLatest; the states that follow carry only what changed).
  async function positionAfterLesson(pos, still = () => true) {
    if (!state.lesson || !ctx.lessonSettled) return;
    await ctx.lessonSettled();
    if (Number.isInteger(pos) && state.pos !== pos && still()) ctx.setPos(pos);
  }

  // A reloaded teacher page: the room's last state had a question open. Show what the room shows (the
  // quiz run, its reveals, the position held at the question), then take the question back: its answer
  // from this page's own quiz (the state never carried it before the reveal), or the reveal's. Nothing
  // is sent meanwhile, so participants keep the question; if the question cannot be found again (another
  // circuit), the room gets the page's state without it, as before.
  async function resumeQuestion(roomState) {
    resuming = true;
    const end = begin("room-resume");
    try {
      await ctx.applyState(followedPartOf(roomState));
      await positionAfterLesson(roomState.pos);
      const a = roomState.ask;
      if (role() !== "teacher" || state.quiz.mode === "off" || state.quiz.run !== a.run) return;
      let found = a.reveal && typeof a.reveal === "object" && typeof a.reveal.answer === "number" ? { ...a.reveal } : null;
      if (!found) {
        const q = ctx.currentQuestion ? ctx.currentQuestion() : null;
        if (q && q.key === a.key && typeof q.answer === "number") {
          found = { answer: q.answer, tolerance: Math.max((q.rel_tol ?? 0.01) * Math.abs(q.answer), q.abs_tol ?? 1e-9), text: q.answerText };
        }
      }
      if (!found) return;
      secret = a.reveal ? { ...found } : found;
      ask = { ...a };
      tally = null;
      startPolling();
    } catch (err) {
      console.error(err);
    } finally {
      resuming = false;
      end();
      sendState();
      render();
    }
  }

  function sendState() {
    if (role() !== "teacher" || !sender || resuming) return;
    sender.send(roomStateOf(ctx.snapshot(), ask));
  }

  async function refreshNames() {
    if (role() !== "teacher") return;
    try {
      const r = await roomApi.participants(state.room.code, teacherKey);
      names = r.participants.map((p) => p.name);
      if (state.room && r.count !== state.room.participants) setRoom({ participants: r.count });
      else render();
    } catch (err) {
      if (err.status === 404) ended("expired");
    }
  }

  // the question the quiz bar asks now, if it can be put to the room (a number to type)
  function askable() {
    if (!ctx.currentQuestion || state.quiz.mode === "off") return null;
    const q = ctx.currentQuestion();
    return q && !q.revealOnly && !q.revealed && typeof q.answer === "number" ? q : null;
  }

  function askRoom() {
    const q = askable();
    if (!q) return;
    ctx.askQuestion(q.key);
    // the answer and its tolerance stay on this page until the reveal (the state is broadcast as given)
    secret = { answer: q.answer, tolerance: Math.max((q.rel_tol ?? 0.01) * Math.abs(q.answer), q.abs_tol ?? 1e-9), text: q.answerText };
    ask = { id: questionId(state.quiz.run, q.key), key: q.key, kind: q.kind, prompt: q.prompt, run: state.quiz.run, at: q.at };
    tally = null;
    sendState();
    startPolling();
    render();
  }

  // follow the quiz: a reveal (here or on the quiz bar) reveals to the room; a new run drops the question
  function syncAsk() {
    if (!ask) return;
    if (state.quiz.mode === "off" || state.quiz.run !== ask.run) {
      ask = secret = tally = null;
      stopPolling();
      return;
    }
    if (!ask.reveal && state.quiz.revealed.includes(ask.key)) {
      ask = { ...ask, reveal: { ...secret } };
      sendState();
      startPolling();
    }
  }

  let pollAbort = null; // the poll in flight: ending the room aborts it (it would meet the 404 of a closed room)
  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    if (pollAbort) pollAbort.abort();
    pollAbort = null;
  }
  function startPolling() {
    stopPolling();
    poll(true);
  }
  async function poll(tracked = false) {
    pollTimer = null;
    if (role() !== "teacher" || !ask) return;
    const a = ask;
    const abort = (pollAbort = new AbortController());
    try {
      const r = await roomApi.tally(state.room.code, teacherKey, a.id, a.reveal ? a.reveal.answer : null,
        a.reveal ? a.reveal.tolerance : null, { tracked, signal: abort.signal });
      if (ask && ask.id === a.id) {
        tally = r;
        render();
      }
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.status === 404) return ended("expired");
    } finally {
      if (pollAbort === abort) pollAbort = null;
    }
    if (ask && role() === "teacher" && !pollTimer) pollTimer = setTimeout(() => poll(), ask.reveal ? POLL_AFTER_MS : POLL_MS);
  }

  async function endRoom() {
    if (role() !== "teacher") return;
    const code = state.room.code, key = teacherKey;
    stopPolling(); // no answer poll may meet the closed room
    try {
      await roomApi.end(code, key);
    } catch (err) {
      if (err.status !== 404) {
        setRoom({ problem: { kind: "refused", message: errorText(err) } });
        if (ask) startPolling(); // the room goes on
        return;
      }
    }
    ended("ended");
  }

  for (const ev of ["doc", "pos", "select", "quiz", "lesson", "unit"]) {
    bus.on(ev, () => {
      if (role() !== "teacher") return;
      if (ev === "quiz" && !resuming) syncAsk();
      sendState();
      if (ev !== "pos" || ask) render();
    });
  }

  // ---- a participant ---------------------------------------------------------------------------------
  function becomeParticipant(code, tok, name) {
    stopAll();
    token = tok;
    for (const [q, v] of Object.entries(secrets.answers(code))) if (typeof v === "number") myAnswers.set(q, v);
    setRoom({ role: "participant", code, name, title: null, participants: null, status: "connecting", detached: false });
    document.body.classList.add("room-following");
    roomApi.info(code).then((info) => state.room && state.room.code === code && setRoom({ title: info.title }))
      .catch((err) => err.status === 404 && ended("expired"));
    connect();
    ctx.writeHashSoon();
  }

  function connect() {
    if (stream) stream.close();
    const code = state.room.code;
    stream = followRoom(code, {
      onState: (s) => receive(s),
      onRoom: (n) => setRoom({ participants: n }),
      onClosed: (reason) => ended(reason),
      onStatus: (s) => {
        setRoom({ status: s });
        // refused (404: the room is gone; 503: a cap): EventSource gave up; say which
        if (s === "failed") roomApi.info(code, { tracked: false }).catch((err) => err.status === 404 && ended("expired"));
      },
    });
  }

  function receive(roomState) {
    if (role() !== "participant") return;
    latest = roomState && typeof roomState === "object" ? roomState : null;
    const a = latest && latest.ask;
    if (!a || !ask || a.id !== ask.id) answerInfo = null;
    ask = a && typeof a === "object" && typeof a.id === "string" ? a : null;
    if (latest && !state.room.detached) applyLatest();
    render();
  }

  // Apply the teacher's latest state (only what changed since the last one applied; all of it after a
  // re-sync). States that arrive while one is being applied coalesce: the newest wins.
  async function applyLatest(full = false) {
    if (applying) {
      queued = { full: full || (queued && queued.full) };
      return;
    }
    applying = true;
    const end = begin("room-apply");
    try {
      let all = full;
      for (;;) {
        const target = latest;
        if (!target || role() !== "participant" || state.room.detached) break;
        const part = followedPartOf(target, all ? null : applied);
        await applyPart(part);
        await positionAfterLesson(target.pos, () => role() === "participant");
        applied = target;
        if (!queued) break;
        all = queued.full;
        queued = null;
      }
    } catch (err) {
      console.error(err);
    } finally {
      applying = false;
      queued = null;
      end();
      render();
    }
  }

  async function applyPart(part) {
    const keys = Object.keys(part);
    if (!keys.length) return;
    if (keys.length === 1 && keys[0] === "pos" && state.schedule) {
      const from = state.pos;
      ctx.setPos(part.pos, { animate: Math.abs(part.pos - from) === 1, from }); // the teacher playing: one step at a time
      return;
    }
    await ctx.applyState(part);
  }

  function detach() {
    if (role() !== "participant" || state.room.detached) return;
    document.body.classList.remove("room-following");
    setRoom({ detached: true });
  }
  function resync() {
    if (role() !== "participant") return;
    document.body.classList.add("room-following");
    setRoom({ detached: false });
    if (latest) applyLatest(true);
  }
  function leave() {
    if (role() !== "participant") return;
    secrets.forgetParticipant(state.room.code);
    stopAll();
    setRoom(null);
    ctx.writeHashSoon();
  }

  // editing the circuit while following is exploring: detach (re-sync brings the teacher's view back)
  for (const id of ["program", "inputs", "preset-select", "lesson-select"]) {
    for (const type of ["input", "change"]) {
      $(id).addEventListener(type, (ev) => {
        if (ev.isTrusted && role() === "participant" && !state.room.detached) detach();
      });
    }
  }

  async function sendAnswer(text) {
    if (role() !== "participant" || !ask || ask.reveal) return;
    const v = parsePrediction(text);
    if (v === null) {
      answerInfo = { kind: "nan" };
      return render();
    }
    const a = ask;
    answerInfo = { kind: "sending", value: v };
    render();
    for (let attempt = 0; ; attempt++) {
      try {
        await roomApi.answer(state.room.code, a.id, v, token);
        myAnswers.set(a.id, v);
        secrets.setAnswer(state.room.code, a.id, v);
        answerInfo = { kind: "sent", value: v };
        break;
      } catch (err) {
        if ((err.status === 0 || err.status >= 502) && attempt < 2) {
          await new Promise((r) => setTimeout(r, 1000)); // (answers are idempotent)
          continue;
        }
        if (err.status === 403) answerInfo = { kind: "rejoin" };
        else if (err.status === 404) return ended("expired");
        else answerInfo = { kind: "error", message: errorText(err) };
        break;
      }
    }
    if (ask && ask.id === a.id) render();
  }

  // ---- drawing ---------------------------------------------------------------------------------------
  const btn = (label, testid, fn, cls = "btn") => {
    const b = el("button", { class: cls, type: "button", testid }, label);
    b.addEventListener("click", fn);
    return b;
  };

  function statusOf(room) {
    if (room.role === "ended") return "closed";
    if (room.status === "failed") return "failed";
    if (room.detached) return "detached";
    return room.status === "connected" ? "connected" : room.status === "reconnecting" ? "reconnecting" : "connecting";
  }
  function statusText(s) {
    const teacher = role() === "teacher";
    return {
      connected: teacher ? t("room.status_live") : t("room.status_following"),
      reconnecting: t("room.status_reconnecting"),
      connecting: t("room.status_connecting"),
      detached: t("room.status_detached"),
      failed: t("room.status_failed"),
      closed: t("room.status_closed"),
    }[s];
  }

  function render() {
    const room = state.room;
    const active = room && (room.role === "teacher" || room.role === "participant");
    // in a room the button shows the code (the topbar is full at 1024 px); its title says what it is
    button.textContent = active ? room.code : t("room.button");
    button.title = active ? t("room.button_active", { code: room.code }) : t("room.button_title");
    button.classList.toggle("room-on", !!active);
    document.body.classList.toggle("room-asking", !!(active && room.role === "teacher" && ask && !ask.reveal));
    button.dataset.role = active ? room.role : "";
    document.body.dataset.room = room ? room.role : "";
    renderCard();
    if (!room || room.role === "pending") {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.hidden = false;
    const s = statusOf(room);
    box.dataset.role = room.role === "ended" ? room.was || "" : room.role;
    box.dataset.status = s;
    const head = el("div", { class: "room-row" });
    const chip = el("span", { class: `room-status ${s}`, testid: "room-status", "data-status": s, role: "status" });
    chip.append(el("span", { class: "room-dot", "aria-hidden": "true" }), statusText(s));
    head.append(chip);
    if (room.role === "ended") {
      head.append(el("span", { class: "room-muted" }, room.reason === "expired" ? t("room.ended_expired") : t("room.ended")));
      head.append(btn(t("room.dismiss"), "room-dismiss", () => setRoom(null)));
      box.replaceChildren(head);
      return;
    }
    const where = el("span", { class: "room-where" });
    where.append(t("room.code_is"), " ", el("b", { class: "room-code-inline", testid: "room-code-inline" }, room.code));
    if (room.title) where.append(" · ", el("span", { testid: "room-title" }, room.title));
    head.append(where);
    if (room.participants !== null && room.participants !== undefined) {
      head.append(el("span", { class: "room-count-chip", testid: "room-participants", "data-count": String(room.participants) },
        t("room.participants", { count: room.participants })));
    }
    const parts = [head];
    if (room.role === "teacher") renderTeacher(room, head, parts);
    else renderParticipant(room, head, parts, s);
    box.replaceChildren(...parts);
  }

  function renderTeacher(room, head, parts) {
    head.append(el("span", { class: "spacer" }));
    if (!room.cardOpen) head.append(btn(t("room.show_card"), "room-show-card", () => setRoom({ cardOpen: true })));
    head.append(btn(t("room.end"), "room-end", () => endRoom()));
    if (room.problem) {
      const p = room.problem;
      const msg = p.kind === "too_large" ? t("room.problem_too_large", { kb: Math.ceil((p.bytes || 0) / 1024), limit: Math.floor((p.limit || 0) / 1024) })
        : p.kind === "rate" || p.kind === "retry" ? t("room.problem_retry") : t("room.problem_refused", { message: p.message || "" });
      parts.push(el("div", { class: "room-problem", testid: "room-problem", "data-kind": p.kind }, msg));
    }
    const row = el("div", { class: "room-row room-quiz" });
    const next = askable();
    if (state.quiz.mode === "off") {
      row.append(el("span", { class: "room-muted" }, t("room.quiz_off")),
        btn(t("room.quiz_on"), "room-quiz-on", () => ctx.setQuizMode("grad")));
    } else if (ask) {
      // the question, its count and the reveal on the left; the answers as a histogram beside them
      // (the quiz bar steps aside while the room answers: the question is here, in full)
      row.classList.add("room-ask");
      const text = el("div", { class: "room-ask-text" });
      const prompt = el("div", { class: "room-prompt", testid: "room-question", "data-question": ask.id, title: ask.prompt }, ask.prompt);
      if (ask.reveal) prompt.classList.add("clamp");
      const count = tally ? tally.count : 0;
      const of = tally ? tally.participants : room.participants || 0;
      const line = el("div", { class: "room-row" });
      line.append(el("span", { class: "room-answered", testid: "room-answered", "data-count": String(count) },
        t("room.answered", { count, total: of })));
      if (ask.reveal) {
        line.append(el("span", { class: "room-answer", testid: "room-reveal-answer" }, t("room.answer_is", { answer: ask.reveal.text || fmtN(ask.reveal.answer) })));
        if (tally && tally.share_right !== null && tally.share_right !== undefined) {
          line.append(el("span", { class: "room-share", testid: "room-share-right", "data-right": String(tally.right) },
            t("room.share_right", { percent: Math.round(tally.share_right * 100), right: tally.right })));
        }
        if (next) line.append(btn(t("room.ask_next"), "room-ask", () => askRoom(), "btn primary"));
      } else {
        line.append(btn(t("room.reveal"), "room-reveal", () => ctx.revealAnswer(ask.key), "btn primary"));
      }
      text.append(prompt, line);
      row.append(text, histogram(tally, !!ask.reveal));
    } else if (next) {
      row.append(el("span", { class: "room-prompt muted clamp", title: next.prompt }, next.prompt),
        btn(t("room.ask"), "room-ask", () => askRoom(), "btn primary"));
    } else {
      row.append(el("span", { class: "room-muted" }, t("room.no_question")));
    }
    parts.push(row);
  }

  function histogram(tl, revealed) {
    const wrap = el("div", { class: "room-hist", testid: "room-histogram", role: "img" });
    const bars = tl ? tl.histogram : [];
    const total = bars.reduce((s, b) => s + b.count, 0);
    wrap.setAttribute("aria-label", t("room.histogram_aria", { count: total }));
    if (!bars.length) {
      wrap.append(el("span", { class: "room-muted" }, t("room.no_answers")));
      return wrap;
    }
    let shown = bars;
    if (bars.length > MAX_BARS) {
      const top = new Set([...bars].sort((a, b) => b.count - a.count).slice(0, MAX_BARS));
      shown = bars.filter((b) => top.has(b));
    }
    const max = Math.max(...shown.map((b) => b.count));
    for (const b of shown) {
      const cls = revealed && b.right !== undefined && b.right !== null ? (b.right ? "right" : "wrong") : "";
      const bar = el("div", { class: `room-bar ${cls}`, testid: "room-bar", "data-value": String(b.value), "data-count": String(b.count) });
      const fill = el("div", { class: "room-bar-fill" });
      fill.style.height = `${Math.max(4, Math.round((b.count / max) * 100))}%`;
      bar.append(el("span", { class: "room-bar-count" }, String(b.count)), fill,
        el("span", { class: "room-bar-value" }, fmtN(b.value)));
      wrap.append(bar);
    }
    if (shown.length < bars.length) {
      const rest = bars.filter((b) => !shown.includes(b));
      wrap.append(el("span", { class: "room-muted room-more" }, t("room.more_values", { values: rest.length, count: rest.reduce((s, b) => s + b.count, 0) })));
    }
    return wrap;
  }

  function renderParticipant(room, head, parts, s) {
    if (room.name) head.append(el("span", { class: "room-me" }, t("room.you", { name: room.name })));
    head.append(el("span", { class: "spacer" }));
    if (s === "failed") head.append(btn(t("room.retry"), "room-retry", () => connect()));
    if (room.detached) head.append(btn(t("room.resync"), "room-resync", () => resync(), "btn primary"));
    else head.append(btn(t("room.detach"), "room-detach", () => detach()));
    head.append(btn(t("room.leave"), "room-leave", () => leave()));
    if (!ask) return;
    const row = el("div", { class: "room-row room-quiz" });
    // the question in this page's language when the page shows the same circuit, else the teacher's words
    const local = ctx.currentQuestion ? ctx.currentQuestion() : null;
    const prompt = local && local.key === ask.key ? local.prompt : ask.prompt;
    row.append(el("span", { class: "room-prompt", testid: "room-question", "data-question": ask.id }, prompt));
    const mine = myAnswers.get(ask.id);
    if (!ask.reveal) {
      const input = el("input", { class: "quiz-input", testid: "room-answer-input", type: "text", inputmode: "decimal",
        autocomplete: "off", "aria-label": t("quiz.input_aria") });
      const prev = box.querySelector("[data-testid=room-answer-input]");
      const keep = prev && box.dataset.question === ask.id ? { value: prev.value, focused: document.activeElement === prev } : null;
      const submit = () => sendAnswer(input.value);
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          submit();
        }
      });
      row.append(input, btn(mine === undefined ? t("room.send") : t("room.change"), "room-answer-send", submit, "btn primary"));
      const info = answerInfo;
      let msg = "";
      if (info && info.kind === "nan") msg = t("quiz.not_a_number");
      else if (info && info.kind === "sending") msg = t("room.sending");
      else if (info && info.kind === "rejoin") msg = t("room.error_rejoin");
      else if (info && info.kind === "error") msg = info.message;
      else if (mine !== undefined) msg = t("room.sent", { value: fmtN(mine) });
      else msg = t("room.answer_help");
      row.append(el("span", { class: `room-answer-status ${info ? info.kind : ""}`, testid: "room-answer-status", "data-kind": info ? info.kind : mine !== undefined ? "sent" : "" }, msg));
      parts.push(row);
      box.dataset.question = ask.id;
      if (keep) {
        input.value = keep.value;
        if (keep.focused) queueMicrotask(() => input.focus({ preventScroll: true }));
      }
      return;
    }
    const answer = ask.reveal.text || fmtN(ask.reveal.answer);
    const result = mine === undefined ? "none" : isRightAnswer(mine, ask.reveal) ? "right" : "wrong";
    const text = result === "right" ? t("room.result_right", { answer })
      : result === "wrong" ? t("room.result_wrong", { mine: fmtN(mine), answer }) : t("room.result_none", { answer });
    row.append(el("span", { class: `room-result ${result}`, testid: "room-result", "data-result": result }, text));
    parts.push(row);
    delete box.dataset.question;
  }

  function renderCard() {
    const room = state.room;
    if (!room || room.role !== "teacher" || !room.cardOpen) {
      card.hidden = true;
      card.replaceChildren();
      return;
    }
    card.hidden = false;
    const head = el("div", { class: "room-card-head" });
    head.append(el("span", { class: "room-card-title", testid: "room-card-title" }, room.title || ""),
      btn("✕", "room-card-hide", () => setRoom({ cardOpen: false }), "btn small-btn"));
    head.lastChild.setAttribute("aria-label", t("room.hide_card"));
    head.lastChild.title = t("room.hide_card");
    const img = el("img", { class: "room-qr", testid: "room-qr", alt: t("room.qr_alt", { url: room.joinUrl }), src: room.qrUrl });
    const code = el("div", { class: "room-card-code", testid: "room-code" }, room.code);
    const url = el("div", { class: "room-card-url", testid: "room-join-url" }, room.joinUrl);
    const how = el("div", { class: "room-card-how" }, t("room.card_how"));
    const count = el("div", { class: "room-card-count", testid: "room-card-count", "data-count": String(room.participants || 0) },
      t("room.participants", { count: room.participants || 0 }));
    const list = el("ul", { class: "room-names", testid: "room-names" });
    for (const n of names.slice(-MAX_NAMES)) list.append(el("li", {}, n)); // text, never HTML
    card.replaceChildren(head, how, img, url, code, count, list);
  }

  // ---- start: a code in the link ------------------------------------------------------------------------
  const first = (fromHash(location.hash) || {}).room;
  if (first) state.room = { role: "pending", code: first }; // kept in the hash until joined or dismissed
  bus.on("ready", () => {
    if (first) arrive(first);
  });
  window.addEventListener("hashchange", () => {
    const h = fromHash(location.hash);
    if (h && h.room && (!state.room || state.room.code !== h.room)) arrive(h.room);
  });
  bus.on("lang", () => render());
  bus.on("doc", () => role() === "participant" && ask && render());
  // (the circuit fits itself again when the room bar changes its frame: controller.js)
  // window.backpropLab.room(): the room as this page sees it, for tests (no secrets: the key stays in this closure)
  if (window.backpropLab) window.backpropLab.room = () => ctx.room.info();
  Object.assign(ctx, {
    room: {
      start: startRoom, join: (code, name) => {
        codeInput.value = code;
        nameInput.value = name;
        return joinRoom();
      },
      ask: askRoom, detach, resync, leave, end: endRoom, refresh: () => poll(true),
      info: () => ({ ...(state.room || {}), ask, tally, following: role() === "participant" && !state.room.detached,
        applied, latest, statusLog: [...statusLog] }),
    },
  });
}
