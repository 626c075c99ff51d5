// The one state object, a tiny event bus, and the URL hash (program, values, view). No DOM
// beyond reading/writing location.hash.

export const DEFAULT_PROGRAM = "q = x + y\nf = q * z";
export const DEFAULT_VALUES = { x: -2, y: 5, z: -4 };

export const state = {
  program: DEFAULT_PROGRAM,
  values: { ...DEFAULT_VALUES }, // values the user set (inputs with program defaults omitted)
  memory: { ...DEFAULT_VALUES }, // every value ever set, so a re-added input gets its old value back
  ops: new Map(),                // name -> ops metadata, learned from /api/v1/ops only
  presets: [],
  doc: null,                     // last good evaluation document
  docProgram: null,              // the program text that produced doc
  structureKey: null,
  layout: null,                  // geometry for doc's structure
  schedule: null,                // animation schedule for doc
  error: null,                   // {type, msg, line, column, source_line, caret} or null
  selected: null,                // selected node id
  pos: null,                     // animation position 0..schedule.steps.length (null = end)
  playing: false,
  speed: 1,
  numericCheck: false,
  sweepVar: null,
  optimize: { mode: "ascent", stepSize: 0.01, steps: 100 },
  trainVars: null,               // tensor mode: the inputs "gradient steps" move (null = all)
  presetId: null,
  view: null,                    // {x, y, k} zoom transform, restored from the URL
};

const listeners = new Map();
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
}
export function emit(event, payload) {
  for (const fn of listeners.get(event) || []) fn(payload);
}

// ---- URL hash: #p=<program>&v=x:-2,y:5&sel=3&step=4&nc=1&t=x,y,k (vj=<JSON> with tensors) -------

// Scalars as "x:-2,y:5"; if any value is a tensor (nested list), the whole map as JSON in "vj".
function hasTensor(values) {
  return Object.values(values).some((v) => Array.isArray(v));
}
function encodeValues(values) {
  return Object.entries(values).map(([k, v]) => `${k}:${v}`).join(",");
}
function encodeJson(values) {
  return JSON.stringify(values, (k, x) => (typeof x === "number" && !Number.isFinite(x)
    ? (Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity") : x));
}
function decodeJson(s) {
  const dec = (x) => (Array.isArray(x) ? x.map(dec)
    : x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x);
  try {
    const v = JSON.parse(s);
    if (!v || typeof v !== "object" || Array.isArray(v)) return {};
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = dec(x);
    return out;
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
  if (hasTensor(s.values)) p.set("vj", encodeJson(s.values));
  else {
    const v = encodeValues(s.values);
    if (v) p.set("v", v);
  }
  if (s.selected !== null && s.selected !== undefined) p.set("sel", String(s.selected));
  if (s.pos !== null && s.schedule && s.pos < s.schedule.steps.length) p.set("step", String(s.pos));
  if (s.numericCheck) p.set("nc", "1");
  if (s.view) p.set("t", [s.view.x, s.view.y, s.view.k].map((n) => Math.round(n * 1000) / 1000).join(","));
  return "#" + p.toString();
}

export function fromHash(hash) {
  const h = (hash || "").replace(/^#/, "");
  if (!h) return null;
  const p = new URLSearchParams(h);
  if (!p.has("p")) return null;
  const out = { program: p.get("p"), values: p.has("vj") ? decodeJson(p.get("vj")) : decodeValues(p.get("v")) };
  if (p.has("sel")) out.selected = Number(p.get("sel"));
  if (p.has("step")) out.pos = Number(p.get("step"));
  out.numericCheck = p.get("nc") === "1";
  if (p.has("t")) {
    const [x, y, k] = p.get("t").split(",").map(Number);
    if ([x, y, k].every(Number.isFinite) && k > 0) out.view = { x, y, k };
  }
  return out;
}

let hashTimer = null;
export function writeHashSoon() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(writeHashNow, 150);
}
export function writeHashNow() {
  clearTimeout(hashTimer);
  const h = toHash();
  if (h !== location.hash) history.replaceState(null, "", h);
}

export function shareUrl() {
  return location.origin + location.pathname + toHash();
}
