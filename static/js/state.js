// The one state object, the event bus the controller and views talk over, and the URL hash (the
// shareable part of the state). No DOM beyond reading/writing location.hash.
//
// Shareable state (SHARED_KEYS) is plain data: it round-trips through the URL hash and through
// snapshot()/applyState() (live rooms send it from a teacher's page to participants' pages).
// Everything else in `state` is derived at run time (the evaluation document, its layout, ...).
import { debouncer } from "./busy.js";

export const DEFAULT_PROGRAM = "q = x + y\nf = q * z";
export const DEFAULT_VALUES = { x: -2, y: 5, z: -4 };

export const state = {
  // ---- shareable (hash, snapshot, applyState) ----
  program: DEFAULT_PROGRAM,
  values: { ...DEFAULT_VALUES }, // values the learner set, by input name (program defaults omitted)
  selectedKey: null,             // the selected node, by a key that survives re-evaluation (nodeKey())
  pos: null,                     // animation position 0..schedule.steps.length (null = end)
  numericCheck: false,
  view: null,                    // {x, y, k} zoom transform
  present: false,                // presenter mode
  unit: "gate",                  // playback unit: "gate" | "statement"
  folded: [],                    // keys of folded groups ("s:<name>" statements, "e:<key>" sub-expressions)
  opened: [],                    // keys of opened calls ("c:<text>~k"): a call of a user function is folded by default
  follow: true,                  // the camera follows the active node during playback
  lang: "en",
  quiz: { mode: "off", run: null, revealed: [], answers: {}, current: null }, // quiz mode (quiz.js)
  lesson: null,                  // {id, step}: the open lesson and its step (view-lesson.js)
  // ---- the live room (view-room.js): only its code is in the hash (room=CODE), never in a snapshot ----
  room: null,                    // {role: "teacher" | "participant", code, title, joinUrl, qrUrl, participants,
                                 //  status, detached, name, ask} (secrets stay in sessionStorage: room.js)
  // ---- derived / run time ----
  bases: {},                     // name -> the program's default when the learner set values[name]
  ops: new Map(),                // name -> ops metadata, learned from /api/v1/ops only
  presets: [],
  doc: null,                     // the document on screen: the last good evaluation, masked in quiz mode (quiz.js)
  fullDoc: null,                 // the engine's document itself (never drawn: quiz mode may hide parts of it)
  questions: [],                 // the quiz's questions for fullDoc (quiz.js questionsOf)
  quizLimit: Infinity,           // the animation stops here until the question there is revealed
  lessons: [],                   // the lesson list in the page's language (GET /api/v1/lessons)
  lessonData: null,              // the open lesson's steps (GET /api/v1/lessons/{id}) in the page's language
  display: null,                 // the drawn graph: doc with folded groups collapsed (groups.js)
  structureKey: null,
  layout: null,                  // geometry for the display graph
  schedule: null,                // animation schedule for doc
  error: null,                   // {type, msg, line, column, source_line, caret} or null
  selected: null,                // selected node id in doc (resolved from selectedKey)
  playing: false,
  speed: 1,
  presetId: null,
};

export const SHARED_KEYS = ["program", "values", "selectedKey", "pos", "numericCheck", "view", "present", "unit",
  "folded", "opened", "follow", "lang", "quiz", "lesson"];

// A view's own shareable keys and their place in the hash (the Train view: `tab`, `train`; hash
// `view=train&ds=moons...`): part.write(URLSearchParams, state), part.read(URLSearchParams, out).
const hashParts = [];
export function registerShared(keys, part = null) {
  for (const k of keys) if (!SHARED_KEYS.includes(k)) SHARED_KEYS.push(k);
  if (part) hashParts.push(part);
}

// ---- event bus: the controller emits, views listen (docs/page.md lists the events) -------------
const listeners = new Map();
export const bus = {
  on(event, fn) {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event).add(fn);
    return () => listeners.get(event).delete(fn);
  },
  emit(event, payload) {
    for (const fn of [...(listeners.get(event) || [])]) {
      try {
        fn(payload);
      } catch (err) {
        console.error(`listener for "${event}" failed`, err); // one broken view must not stop the others
      }
    }
  },
};

// ---- snapshot: the shareable state as plain JSON-able data ------------------------------------
export function snapshot(s = state) {
  const out = {};
  for (const k of SHARED_KEYS) out[k] = k === "values" ? encodeTree(s.values) : clone(s[k]);
  return out;
}

function clone(v) {
  return v === null || typeof v !== "object" ? v : JSON.parse(JSON.stringify(v));
}

// Non-finite numbers as the contract's strings, so a snapshot survives JSON.
export function encodeTree(v) {
  if (Array.isArray(v)) return v.map(encodeTree);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeTree(x);
    return out;
  }
  if (typeof v === "number" && !Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  return v;
}
export function decodeTree(v) {
  if (Array.isArray(v)) return v.map(decodeTree);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeTree(x);
    return out;
  }
  return v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v;
}

// ---- URL hash ------------------------------------------------------------------------------
// #p=<program>&v=x:-2,y:5&sel=q&step=4&nc=1&t=x,y,k&present=1&by=stmt&fold=s:h&follow=0&lang=en
//   &quiz=1 (gradients; quiz=values, quiz=both)&lesson=chain-rule&lstep=2&room=K7QXH2
// (the quiz's revealed set and answers are not in the URL: a link starts a new run)
const QUIZ_HASH = { grad: "1", value: "values", both: "both" };
// (with tensor values the value map is JSON in vj=)
function hasTensor(values) {
  return Object.values(values).some((v) => Array.isArray(v));
}
function encodeValues(values) {
  return Object.entries(values).map(([k, v]) => `${k}:${v}`).join(",");
}
function decodeJson(s) {
  try {
    const v = JSON.parse(s);
    if (!v || typeof v !== "object" || Array.isArray(v)) return {};
    return decodeTree(v);
  } catch {
    return {};
  }
}
function decodeValues(s) {
  const out = {};
  if (!s) return out;
  for (const part of s.split(",")) {
    const i = part.lastIndexOf(":");
    if (i <= 0) continue;
    const v = Number(part.slice(i + 1));
    if (!Number.isNaN(v) || part.slice(i + 1) === "NaN") out[part.slice(0, i)] = v;
  }
  return out;
}

export function toHash(s = state) {
  const p = new URLSearchParams();
  p.set("p", s.program);
  if (hasTensor(s.values)) p.set("vj", JSON.stringify(encodeTree(s.values)));
  else {
    const v = encodeValues(s.values);
    if (v) p.set("v", v);
  }
  if (s.selectedKey !== null && s.selectedKey !== undefined) p.set("sel", s.selectedKey);
  if (s.pos !== null && s.schedule && s.pos < s.schedule.steps.length) p.set("step", String(s.pos));
  if (s.numericCheck) p.set("nc", "1");
  if (s.view) p.set("t", [s.view.x, s.view.y, s.view.k].map((n) => Math.round(n * 1000) / 1000).join(","));
  if (s.present) p.set("present", "1");
  if (s.unit === "statement") p.set("by", "stmt");
  if (s.folded && s.folded.length) p.set("fold", s.folded.join("|"));
  if (s.opened && s.opened.length) p.set("open", s.opened.join("|"));
  if (s.follow === false) p.set("follow", "0");
  if (s.lang && s.lang !== "en") p.set("lang", s.lang);
  if (s.quiz && QUIZ_HASH[s.quiz.mode]) p.set("quiz", QUIZ_HASH[s.quiz.mode]);
  if (s.lesson) {
    p.set("lesson", s.lesson.id);
    p.set("lstep", String(s.lesson.step));
  }
  if (s.room && s.room.code) p.set("room", s.room.code); // the room's code only: its keys never leave sessionStorage
  for (const part of hashParts) part.write(p, s);
  return "#" + p.toString();
}

// A partial state (only the keys the hash has); null when the hash holds no program.
export function fromHash(hash) {
  const h = (hash || "").replace(/^#/, "");
  if (!h) return null;
  const p = new URLSearchParams(h);
  const out = {};
  if (p.has("p")) {
    out.program = p.get("p");
    out.values = p.has("vj") ? decodeJson(p.get("vj")) : decodeValues(p.get("v"));
    out.numericCheck = p.get("nc") === "1";
  }
  if (p.has("sel")) out.selectedKey = p.get("sel");
  if (p.has("step")) {
    const n = Number(p.get("step"));
    if (Number.isInteger(n) && n >= 0) out.pos = n;
  }
  if (p.has("t")) {
    const [x, y, k] = p.get("t").split(",").map(Number);
    if ([x, y, k].every(Number.isFinite) && k > 0) out.view = { x, y, k };
  }
  if (p.has("present")) out.present = p.get("present") === "1";
  if (p.has("by")) out.unit = p.get("by") === "stmt" ? "statement" : "gate";
  if (p.has("fold")) out.folded = p.get("fold").split("|").filter(Boolean);
  if (p.has("open")) out.opened = p.get("open").split("|").filter(Boolean);
  if (p.has("follow")) out.follow = p.get("follow") !== "0";
  if (p.has("lang")) out.lang = p.get("lang");
  if (p.has("quiz")) {
    const mode = Object.keys(QUIZ_HASH).find((k) => QUIZ_HASH[k] === p.get("quiz")) || "off";
    out.quiz = { mode, run: null, revealed: [], answers: {}, current: null };
  }
  if (p.has("lesson") && /^[a-z0-9-]+$/.test(p.get("lesson"))) {
    const k = Number(p.get("lstep") || 0);
    out.lesson = { id: p.get("lesson"), step: Number.isInteger(k) && k >= 0 ? k : 0 };
  }
  if (p.has("room")) {
    const code = p.get("room").toUpperCase().replace(/[\s-]/g, "");
    if (/^[A-Z0-9]{1,16}$/.test(code)) out.room = code; // (a code to join: view-room.js checks it with the server)
  }
  for (const part of hashParts) part.read(p, out);
  return Object.keys(out).length ? out : null;
}

// The URL follows the state: written on the next tick (the calls of one action make one write), and at most
// once per 150 ms during a drag (replaceState is rate-limited by browsers). The pending write keeps the page
// busy, so a test that waits for idle and then reads the URL sees the new hash.
// While a state is being applied (a link, a lesson step, a room's update) the URL waits for all of it:
// a write in between would put a half-applied state back into the address bar (and a reload would open it).
const hashLater = debouncer("hash");
let lastHashWrite = -Infinity;
let holds = 0;
let heldWrite = false;
export function writeHashSoon() {
  if (holds) {
    heldWrite = true;
    return;
  }
  hashLater.run(writeHashNow, Math.max(0, lastHashWrite + 150 - performance.now()));
}
/** Hold the URL while a state is applied; returns the release (which writes the URL if asked meanwhile). */
export function holdHash() {
  holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    if (!holds && heldWrite) {
      heldWrite = false;
      writeHashSoon();
    }
  };
}
export function writeHashNow() {
  hashLater.cancel();
  if (holds) {
    heldWrite = true;
    return;
  }
  lastHashWrite = performance.now();
  const h = toHash();
  if (h !== location.hash) history.replaceState(null, "", h);
}

export function shareUrl() {
  return location.origin + location.pathname + toHash();
}
