// HTTP client for the Backprop Lab API (docs/contract.md). No DOM; every request keeps the page
// busy (busy.js) until it settles.
import { track } from "./busy.js";
import { valuesFor } from "./program-names.js";
import { t } from "./strings.js";

export class ApiError extends Error {
  constructor(status, detail, message) {
    super(message);
    this.status = status;
    this.detail = detail; // list of {type, msg, loc, ctx} for 422s, else null
  }
  get first() {
    return Array.isArray(this.detail) && this.detail.length ? this.detail[0] : null;
  }
}

const NONFINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };
// Numeric fields: a number, or in tensor mode a nested list or a summary object of numbers.
const NUM_KEYS = new Set(["value", "grad", "default", "numeric", "analytic", "rel_error", "h", "tolerance",
  "step_size", "local_grads", "edge_grads", "xs", "ys", "slopes", "norm", "min", "max", "mean", "sample"]);
const NUM_MAP_KEYS = new Set(["gradients", "values"]);

function num(v) {
  return typeof v === "string" && v in NONFINITE ? NONFINITE[v] : v;
}

// A number, nested list or summary with the non-finite strings decoded at every level.
function numTree(v) {
  if (Array.isArray(v)) return v.map(numTree);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === "shape" || k === "summary" || k === "finite" ? x : numTree(x);
    return out;
  }
  return num(v);
}

// Decode the contract's non-finite strings ("NaN", "Infinity", "-Infinity") in numeric fields only.
export function decodeNumbers(x, key = null) {
  if (Array.isArray(x)) return x.map((v) => decodeNumbers(v, null));
  if (x && typeof x === "object") {
    const out = {};
    for (const [k, v] of Object.entries(x)) {
      if (NUM_KEYS.has(k)) out[k] = numTree(v);
      else if (NUM_MAP_KEYS.has(k) && v && typeof v === "object" && !Array.isArray(v)) {
        out[k] = {};
        for (const [name, t] of Object.entries(v)) out[k][name] = numTree(t);
      } else out[k] = decodeNumbers(v, k);
    }
    return out;
  }
  return x;
}

// JSON has no NaN/Infinity: encode request numbers (and tensor elements) the way the contract does.
function encodeNum(v) {
  if (Array.isArray(v)) return v.map(encodeNum);
  if (typeof v !== "number" || Number.isFinite(v)) return v;
  return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}
function encodeValues(values) {
  if (!values) return values;
  const out = {};
  for (const [k, v] of Object.entries(values)) out[k] = encodeNum(v);
  return out;
}

function request(method, path, body, signal) {
  return track(send(method, path, body, signal), `${method} ${path}`);
}

async function send(method, path, body, signal) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, null, t("error.network", { message: err.message }));
  }
  let data = null, text = "";
  try {
    text = await res.text();
    data = JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    const detail = data && Array.isArray(data.detail) ? data.detail : null;
    const msg = detail ? detail.map((d) => d.msg).join("; ")
      : data && typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`;
    throw new ApiError(res.status, detail, msg);
  }
  // walking a 5 MB document costs; most have no non-finite number to decode
  return /"(?:NaN|-?Infinity)"/.test(text) ? decodeNumbers(data) : data;
}

// The page asks for the columnar layout (docs/contract.md, "The columnar layout"): for a big program about half
// the bytes of the node list, and less server CPU for a program the server has not seen; the views read node
// objects, made here field by field in the default layout's order.
const NODE_FIELDS = ["id", "op", "label", "operands", "shape", "value", "grad", "local_grads", "edge_grads"];
const NODE_TAIL = ["on_path", "finite", "reason"];

export function nodesFromColumns(cols) {
  const n = cols.id.length;
  const head = NODE_FIELDS.filter((f) => f in cols), tail = NODE_TAIL.filter((f) => f in cols);
  const span = cols.span;
  const nodes = new Array(n);
  for (let i = 0; i < n; i++) {
    const node = {};
    for (const f of head) node[f] = cols[f][i];
    if (span) node.span = { start: span.start[i], end: span.end[i], line: span.line[i], column: span.column[i] };
    for (const f of tail) node[f] = cols[f][i];
    nodes[i] = node;
  }
  return nodes;
}

function withNodes(doc) {
  if (doc && doc.layout === "columns") {
    doc.nodes = nodesFromColumns(doc.nodes);
    delete doc.layout;
  }
  return doc;
}

export const api = {
  ops: () => request("GET", "/api/v1/ops").then((d) => d.ops),
  presets: () => request("GET", "/api/v1/presets").then((d) => (Array.isArray(d) ? d : d.presets || [])),
  evaluate: (expression, values, { numericCheck = false, signal } = {}) =>
    request("POST", "/api/v1/evaluate",
      { expression, values: encodeValues(values), ...(numericCheck ? { numeric_check: true } : {}), layout: "columns" },
      signal).then(withNodes),
  optimize: (expression, values, mode, stepSize, steps, signal, variables = null) =>
    request("POST", "/api/v1/optimize",
      { expression, values: encodeValues(values), mode, step_size: stepSize, steps, ...(variables ? { variables } : {}) },
      signal),
  lessons: (lang) => request("GET", `/api/v1/lessons?lang=${encodeURIComponent(lang)}`).then((d) => d.lessons || []),
  lesson: (id, lang) => request("GET", `/api/v1/lessons/${encodeURIComponent(id)}?lang=${encodeURIComponent(lang)}`),
  // the output and every gradient at N points in one pass: batch maps inputs to lists of N numbers
  batch: (expression, values, batch, signal) =>
    request("POST", "/api/v1/evaluate", { expression, values: encodeValues(values), batch }, signal),
  sweep: (expression, values, variable, start, stop, points = 121, signal) =>
    request("POST", "/api/v1/sweep",
      { expression, values: encodeValues(values), variable, start, stop, points }, signal),
};

export function sameValue(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) === JSON.stringify(b);
  return Object.is(a, b) || a === b;
}

// Evaluate, reconciling the value map with the program's inputs: drop values for names the
// program no longer has (unknown_name), give new inputs a starting value (missing_value), and let
// the program win over a value the learner set when the program's default for that name changed
// since (bases[name] is the default at the time the value was set; undefined = not known yet).
// The first request already sends only the values of the program's inputs (program-names.js), so
// switching programs costs no 422; the retries are for what reading the text cannot know.
export async function evaluateReconciled(expression, values, { bases = {}, memory = {}, ...opts } = {}) {
  let vals = valuesFor(expression, values, memory);
  for (let attempt = 0; attempt < 4; attempt++) {
    let doc;
    try {
      doc = await api.evaluate(expression, vals, opts);
    } catch (err) {
      const d = err instanceof ApiError ? err.first : null;
      if (attempt < 3 && d && d.type === "unknown_name" && d.ctx && Array.isArray(d.ctx.names)) {
        vals = { ...vals };
        for (const n of d.ctx.names) delete vals[n];
        continue;
      }
      if (attempt < 3 && d && d.type === "missing_value" && d.ctx && Array.isArray(d.ctx.names)) {
        vals = { ...vals };
        for (const n of d.ctx.names) vals[n] = n in memory ? memory[n] : 1;
        continue;
      }
      throw err;
    }
    const stale = doc.inputs.filter((i) => i.name in vals && bases[i.name] !== undefined
      && !sameValue(bases[i.name], i.default ?? null));
    if (stale.length && attempt < 3) {
      vals = { ...vals };
      for (const i of stale) delete vals[i.name];
      continue;
    }
    return { doc, values: vals };
  }
  throw new ApiError(0, null, "could not reconcile the inputs with the program");
}
