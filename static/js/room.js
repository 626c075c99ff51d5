// Live rooms, the model (docs/rooms.md): the REST calls, the teacher's secrets, what a teacher's page
// sends (roomStateOf) and how a participant's page applies it (followedPartOf), the throttled and
// size-bounded state sender, the event stream. No DOM beyond fetch, EventSource and sessionStorage;
// view-room.js draws.
//
// Secrets: the teacher key and a participant's token live in sessionStorage only (this tab, this
// room); they are never in the URL hash (the hash is what a teacher shares), never in a state.
//
// The room state a teacher's page PUTs (a snapshot, not a diff; participants apply it as given):
//   {v: 1, program, values, selectedKey, pos, numericCheck, unit, folded,
//    quiz: {mode, run, revealed, answers: {}, current}, lesson: {id, step} | null,
//    ask: null | {id, key, kind, prompt, at, reveal?: {answer, tolerance, text}}}
// `ask` is the question put to the room: `id` names it for POST/GET .../answers, `key` is the quiz's
// question key (quiz.js); `reveal` is added only when the teacher reveals (never the answer before).
import { later, track } from "./busy.js";

export const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;
export const ROOM_STATE_VERSION = 1;
// the page's own bound on a state (the server's default cap, BACKPROP_ROOM_MAX_STATE_BYTES, is 256 KiB)
export const MAX_STATE_BYTES = 192 * 1024;
// a teacher's page sends at most one state per this many ms (the server takes 20 a second)
export const STATE_INTERVAL_MS = 250;
// the keys of the shareable state a room carries (not the teacher's zoom, language or presenter mode:
// each participant keeps their own screen and language)
export const FOLLOWED_KEYS = ["program", "values", "selectedKey", "pos", "numericCheck", "unit", "folded", "opened", "quiz", "lesson"];

// "k7q-xh2 " -> "K7QXH2"; null when it cannot be a code
export function normalizeCode(text) {
  const c = String(text ?? "").toUpperCase().replace(/[\s-]/g, "");
  return CODE_RE.test(c) ? c : null;
}

export class RoomError extends Error {
  constructor(status, message, retryAfter = null, body = null) {
    super(message);
    this.status = status;       // 0: the network
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

async function call(method, path, { body = null, key = null, tracked = true, signal = undefined } = {}) {
  const headers = {};
  if (body !== null) headers["Content-Type"] = "application/json";
  if (key) headers.Authorization = `Bearer ${key}`;
  const run = async () => {
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === null ? undefined : typeof body === "string" ? body : JSON.stringify(body),
        cache: "no-store", signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new RoomError(0, err.message);
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const ra = Number(res.headers.get("Retry-After"));
      const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`;
      throw new RoomError(res.status, detail, Number.isFinite(ra) && ra > 0 ? ra : null, data);
    }
    return data;
  };
  return tracked ? track(run(), `room ${method}`) : run();
}

const base = (code) => `/api/v1/rooms/${encodeURIComponent(code)}`;

export const roomApi = {
  create: (title) => call("POST", "/api/v1/rooms", { body: { title } }),
  info: (code, opts = {}) => call("GET", base(code), opts),
  join: (code, name) => call("POST", `${base(code)}/participants`, { body: { name } }),
  putState: (code, key, json) => call("PUT", `${base(code)}/state`, { body: json, key }),
  participants: (code, key) => call("GET", `${base(code)}/participants`, { key, tracked: false }),
  answer: (code, question, value, participant) => call("POST", `${base(code)}/answers`, { body: { question, value, participant } }),
  tally: (code, key, question, right = null, tolerance = null, { tracked = false, signal = undefined } = {}) => {
    const q = new URLSearchParams({ question });
    if (right !== null && right !== undefined) q.set("right", String(right));
    if (tolerance !== null && tolerance !== undefined) q.set("tolerance", String(tolerance));
    return call("GET", `${base(code)}/answers?${q}`, { key, tracked, signal });
  },
  end: (code, key) => call("DELETE", base(code), { key }),
  qrUrl: (code) => `${base(code)}/qr.svg`,
  eventsUrl: (code) => `${base(code)}/events`,
};

// ---- secrets: sessionStorage, per room ----------------------------------------------------------------
const TEACHER = "backprop-lab.room.teacher.";
const MEMBER = "backprop-lab.room.participant.";
const ANSWERS = "backprop-lab.room.answers.";

function store() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // (storage blocked: the room works until the tab is reloaded)
  }
}
const memoryStore = new Map();
function get(k) {
  const s = store();
  return s ? s.getItem(k) : memoryStore.get(k) ?? null;
}
function set(k, v) {
  const s = store();
  if (s) s.setItem(k, v);
  else memoryStore.set(k, v);
}
function del(k) {
  const s = store();
  if (s) s.removeItem(k);
  memoryStore.delete(k);
}

export const secrets = {
  teacherKey: (code) => get(TEACHER + code),
  setTeacherKey: (code, key) => set(TEACHER + code, key),
  forgetTeacher: (code) => del(TEACHER + code),
  participant: (code) => {
    try {
      const v = JSON.parse(get(MEMBER + code) || "null");
      return v && typeof v.token === "string" ? v : null;
    } catch {
      return null;
    }
  },
  setParticipant: (code, token, name) => set(MEMBER + code, JSON.stringify({ token, name })),
  forgetParticipant: (code) => {
    del(MEMBER + code);
    del(ANSWERS + code);
  },
  // what this participant answered, by question id (a reloaded page still knows whether it was right)
  answers: (code) => {
    try {
      const v = JSON.parse(get(ANSWERS + code) || "{}");
      return v && typeof v === "object" && !Array.isArray(v) ? v : {};
    } catch {
      return {};
    }
  },
  setAnswer: (code, question, value) => {
    const all = secrets.answers(code);
    all[question] = value;
    const keys = Object.keys(all);
    if (keys.length > 200) delete all[keys[0]];
    set(ANSWERS + code, JSON.stringify(all));
  },
};

// ---- what a teacher sends, what a participant applies ---------------------------------------------------
// The teacher's room state from the page's snapshot (getState()) and the question put to the room.
export function roomStateOf(snap, ask = null) {
  const out = { v: ROOM_STATE_VERSION };
  for (const k of FOLLOWED_KEYS) out[k] = snap[k] === undefined ? null : snap[k];
  if (out.quiz && typeof out.quiz === "object") out.quiz = { ...out.quiz, answers: {} }; // the teacher's own tries stay home
  out.ask = ask ? { ...ask } : null;
  return out;
}

// The part of a teacher's room state a participant's page applies: the followed keys that differ from
// what it applied last (`last`: the previous room state, or null for all of them).
export function followedPartOf(roomState, last = null) {
  const out = {};
  if (!roomState || typeof roomState !== "object") return out;
  for (const k of FOLLOWED_KEYS) {
    if (!(k in roomState)) continue;
    if (last && JSON.stringify(last[k]) === JSON.stringify(roomState[k])) continue;
    out[k] = roomState[k];
  }
  // a new lesson step comes with its circuit: the page then shows the teacher's program, values and
  // position instead of loading the step's own (view-lesson.js: a snapshot brings the circuit with it)
  if ("lesson" in out) for (const k of ["program", "values", "pos"]) if (k in roomState) out[k] = roomState[k];
  if ("quiz" in out && (!out.quiz || typeof out.quiz !== "object")) out.quiz = { mode: "off" };
  if ("pos" in out && !Number.isInteger(out.pos)) delete out.pos;
  return out;
}

// The room question's id for the answers API (1-64 characters of A-Z a-z 0-9 _ . : / # -): the quiz run
// and the question's key, so the same question on another circuit is another question.
export function questionId(run, key) {
  return `${run || "run"}.${key}`.replace(/[^A-Za-z0-9_.:/#-]/g, "_").slice(0, 64);
}

// |value - answer| <= tolerance, the server's rule (GET .../answers?right=&tolerance=)
export function isRightAnswer(value, reveal) {
  return typeof value === "number" && reveal && typeof reveal.answer === "number"
    && Math.abs(value - reveal.answer) <= reveal.tolerance;
}

export function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

// ---- the teacher's state sender: throttled (one PUT per STATE_INTERVAL_MS at most, the latest state
// wins), bounded (a state over MAX_STATE_BYTES is not sent: onProblem says so), and it sends the latest
// state again after a 429's Retry-After or a lost connection, so participants never stay on an old one.
export function createStateSender({ put, maxBytes = MAX_STATE_BYTES, interval = STATE_INTERVAL_MS, onSent = () => {},
  onProblem = () => {} }) {
  let latest = null;       // JSON text waiting to be sent
  let lastSent = null;     // JSON text the server has
  let timer = null;        // pending flush
  let inFlight = null;
  let lastAt = -Infinity;
  let stopped = false;

  function schedule(delay) {
    if (timer || stopped) return;
    timer = later(() => {
      timer = null;
      flush();
    }, Math.max(0, delay), "room-state");
  }

  async function flush() {
    if (stopped || latest === null || latest === lastSent) return;
    if (inFlight) return; // (the PUT in flight reschedules when it ends)
    const json = latest;
    const bytes = byteLength(json);
    if (bytes > maxBytes) {
      onProblem({ kind: "too_large", bytes, limit: maxBytes });
      return;
    }
    lastAt = performance.now();
    inFlight = put(json);
    try {
      const res = await inFlight;
      lastSent = json;
      onSent({ id: res && res.id, bytes });
    } catch (err) {
      const status = err.status || 0;
      if (status === 429 || status === 0 || status >= 502) {
        onProblem({ kind: status === 429 ? "rate" : "retry", status, retryAfter: err.retryAfter });
        inFlight = null;
        if (!stopped) setTimeout(() => schedule(0), (err.retryAfter || (status === 429 ? 1 : 2)) * 1000);
        return;
      }
      onProblem({ kind: status === 413 ? "too_large" : "refused", status, message: err.message, body: err.body });
      if (status === 404 || status === 401 || status === 403) stopped = true;
    } finally {
      inFlight = null;
    }
    if (latest !== lastSent) schedule(interval);
  }

  return {
    // queue a state (an object): sent at once if nothing was sent for `interval` ms, else then
    send(obj) {
      if (stopped) return;
      latest = JSON.stringify(obj);
      if (latest === lastSent) return;
      const wait = lastAt + interval - performance.now();
      schedule(Math.max(wait, 0));
    },
    stop() {
      stopped = true;
      if (timer) timer.cancel();
      timer = null;
    },
    get pending() {
      return latest !== lastSent;
    },
  };
}

// ---- following a room: the event stream -------------------------------------------------------------
// EventSource reconnects by itself (the server's retry:) and sends Last-Event-ID; onStatus gets
// "connecting" | "connected" | "reconnecting" | "failed" (the stream was refused: 404, 503...).
export function followRoom(code, { onState, onRoom, onClosed, onStatus }) {
  const es = new EventSource(roomApi.eventsUrl(code));
  let closed = false;
  onStatus("connecting");
  es.onopen = () => onStatus("connected");
  es.onerror = () => {
    if (closed) return;
    onStatus(es.readyState === EventSource.CLOSED ? "failed" : "reconnecting");
  };
  es.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "state") onState(msg.state, msg.id);
    else if (msg.type === "room") onRoom(msg.participants);
    else if (msg.type === "closed") {
      closed = true;
      es.close();
      onClosed(msg.reason);
    }
  };
  return {
    close() {
      closed = true;
      es.close();
    },
    get readyState() {
      return es.readyState;
    },
  };
}
