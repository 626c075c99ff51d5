// The training backend for the Train view (docs/training.md): the datasets, the program the form
// writes, and a training run as server-sent events read from a POST response (EventSource cannot
// POST). No DOM. Closing the stream (the AbortSignal) stops the run on the server.
import { ApiError } from "./api.js";
import { track } from "./busy.js";
import { t } from "./strings.js";

const NONFINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };
// numeric fields of the events that may carry the contract's non-finite strings
const NUM_FIELDS = new Set(["loss", "train_loss", "test_loss", "weight", "grad", "test_mse"]);

function num(v) {
  return typeof v === "string" && v in NONFINITE ? NONFINITE[v] : v;
}

// Decode "NaN"/"Infinity" in the numeric fields only (a CSV's class may be called "NaN").
export function decodeEvent(x, key = null) {
  if (Array.isArray(x)) return x.map((v) => (NUM_FIELDS.has(key) ? num(v) : decodeEvent(v, null)));
  if (x && typeof x === "object") {
    const out = {};
    for (const [k, v] of Object.entries(x)) out[k] = NUM_FIELDS.has(k) && !Array.isArray(v) ? num(v) : decodeEvent(v, k);
    return out;
  }
  return x;
}

async function errorOf(res) {
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  const detail = data && Array.isArray(data.detail) ? data.detail : null;
  const msg = detail ? detail.map((d) => d.msg).join("; ")
    : data && typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`;
  const err = new ApiError(res.status, detail, msg);
  err.retryAfter = Number(res.headers.get("Retry-After")) || null;
  return err;
}

async function post(path, body, signal) {
  let res;
  try {
    res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, null, t("error.network", { message: err.message }));
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export const trainApi = {
  datasets: () => track(fetch("/api/v1/datasets").then(async (r) => {
    if (!r.ok) throw await errorOf(r);
    return (await r.json()).datasets;
  }), "GET /api/v1/datasets"),
  limits: () => track(fetch("/api/v1/limits").then((r) => (r.ok ? r.json() : null)).catch(() => null), "GET /api/v1/limits"),
  program: (body, signal) => track(post("/api/v1/train/program", body, signal).then((r) => r.json()), "POST /api/v1/train/program"),
};

// Split a text/event-stream into events: blocks separated by a blank line, "event:" and "data:"
// lines, ":" comments (keep-alives) ignored. Returns the events found and the unfinished rest.
export function parseEvents(buffer) {
  const events = [];
  let start = 0;
  for (;;) {
    const end = buffer.indexOf("\n\n", start);
    if (end < 0) break;
    const block = buffer.slice(start, end);
    start = end + 2;
    let kind = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") kind = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ kind, data: data.join("\n") });
  }
  return { events, rest: buffer.slice(start) };
}

/**
 * POST /api/v1/train and call onEvent(kind, payload) for every event as it arrives. Resolves when
 * the stream ends (after `done` or `error`); rejects with an ApiError for a refused request (422,
 * 503) and with an AbortError when `signal` aborts (the server then stops the run).
 */
export async function trainStream(body, { signal, onEvent }) {
  const res = await post("/api/v1/train", body, signal);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let last = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      const { events, rest } = parseEvents(buffer);
      buffer = rest;
      for (const ev of events) {
        let payload;
        try {
          payload = decodeEvent(JSON.parse(ev.data));
        } catch {
          continue;
        }
        last = ev.kind;
        onEvent(ev.kind, payload);
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (last !== "done" && last !== "error") onEvent("error", { detail: t("train.stream_ended") });
}
