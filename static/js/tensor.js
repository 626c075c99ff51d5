// Tensor values (docs/contract.md, tensor mode): shapes, nested lists and summaries, formatting,
// statistics, the diverging colour scale and heatmap geometry. Pure functions, no DOM; shared by
// the layout worker (geometry) and the views.
import { fmt } from "./format.js";
import { t } from "./strings.js";

// A value is a number (scalar), a nested list (rank 1 or 2) or, above the server's summary size,
// {summary: true, shape, min, max, mean, finite, sample}.
export function isSummary(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && v.summary === true;
}
export function isTensorValue(v) {
  return Array.isArray(v) || isSummary(v);
}
export function isTensorShape(shape) {
  return Array.isArray(shape) && shape.length > 0;
}
export function isTensorNode(n) {
  return isTensorShape(n.shape);
}

// (4, 5) / (3,) the numpy way; "scalar" for ().
export function fmtShape(shape) {
  if (!isTensorShape(shape)) return t("caption.scalar");
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}
// 4×5 / 3 for node headers.
export function shapeText(shape) {
  return isTensorShape(shape) ? shape.join("×") : "";
}
export function size(shape) {
  return (shape || []).reduce((a, b) => a * b, 1);
}

// rows x cols of the heatmap grid: a vector is one row, a matrix its own rows and columns.
export function gridDims(shape) {
  if (!isTensorShape(shape)) return [1, 1];
  if (shape.length === 1) return [1, shape[0]];
  return [shape[0], shape.slice(1).reduce((a, b) => a * b, 1)];
}

// Element (r, c) of a nested list of the given shape (NaN where absent).
export function at(v, shape, r, c) {
  if (typeof v === "number") return v;
  if (!Array.isArray(v)) return NaN;
  if (shape.length === 1) return v[c];
  const row = v[r];
  return Array.isArray(row) ? row[c] : NaN;
}

// Every element, row-major.
export function flat(v) {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.flat(Infinity);
  return [];
}

// min / max / mean / largest |x| / Frobenius norm; for summaries the server's numbers.
export function stats(v) {
  if (isSummary(v)) {
    const absmax = Math.max(Math.abs(v.min), Math.abs(v.max));
    return { min: v.min, max: v.max, mean: v.mean, absmax, norm: NaN, count: size(v.shape), finite: v.finite };
  }
  const xs = flat(v);
  let min = Infinity, max = -Infinity, sum = 0, sq = 0, absmax = 0, finite = true;
  for (const x of xs) {
    if (!Number.isFinite(x)) {
      finite = false;
      continue;
    }
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sq += x * x;
    if (Math.abs(x) > absmax) absmax = Math.abs(x);
  }
  const n = xs.length;
  return { min, max, mean: n ? sum / n : NaN, absmax, norm: Math.sqrt(sq), count: n, finite };
}

// Compact text: a number, a short list "[500, 604, 710]", a small matrix "[[1, 2], [3, 4]]", or
// for anything bigger than `limit` elements its shape and range.
export function fmtT(v, { limit = 6, digits = 4 } = {}) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return fmt(v, digits);
  if (isSummary(v)) return `${fmtShape(v.shape)} min ${fmt(v.min, 3)} mean ${fmt(v.mean, 3)} max ${fmt(v.max, 3)}`;
  if (!Array.isArray(v)) return String(v);
  const n = flat(v).length;
  if (n <= limit) {
    const one = (x) => (Array.isArray(x) ? `[${x.map(one).join(", ")}]` : fmt(x, digits));
    return one(v);
  }
  const s = stats(v);
  const shape = Array.isArray(v[0]) ? [v.length, v[0].length] : [v.length];
  return `${fmtShape(shape)} min ${fmt(s.min, 3)} max ${fmt(s.max, 3)}`;
}

// Machine-readable form for data-* attributes: numbers as String(v), tensors as JSON (non-finite
// elements as the contract's strings).
export function rawT(v) {
  if (typeof v === "number") return String(v);
  if (v === null || v === undefined) return "";
  return JSON.stringify(v, (k, x) => (typeof x === "number" && !Number.isFinite(x)
    ? (Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity") : x));
}

// Nested list as editable text: one matrix row per line, numbers to 6 significant digits.
export function toEditText(v) {
  const num = (x) => (Number.isFinite(x) ? String(Number(x.toPrecision(6)))
    : Number.isNaN(x) ? '"NaN"' : x > 0 ? '"Infinity"' : '"-Infinity"');
  if (typeof v === "number") return num(v);
  if (!Array.isArray(v)) return "";
  if (!v.length || !Array.isArray(v[0])) return `[${v.map(num).join(", ")}]`;
  return `[${v.map((row) => `[${row.map(num).join(", ")}]`).join(",\n ")}]`;
}

// Parse what the learner typed: JSON nested lists of numbers (rank 1 or 2, rectangular), or a
// plain number. Returns {value} or {error: a catalogue key (tensor.*)}.
export function parseTensorText(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: "tensor.not_a_list" };
  }
  const dec = (x) => (x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x);
  if (typeof v === "number") return { value: v };
  if (!Array.isArray(v) || !v.length) return { error: "tensor.empty" };
  if (v.every((x) => typeof dec(x) === "number")) return { value: v.map(dec) };
  if (v.every(Array.isArray)) {
    const m = v[0].length;
    if (!m || v.some((row) => row.length !== m)) return { error: "tensor.ragged" };
    if (!v.every((row) => row.every((x) => typeof dec(x) === "number"))) return { error: "tensor.only_numbers" };
    return { value: v.map((row) => row.map(dec)) };
  }
  return { error: "tensor.same_length" };
}

// ---- colour ------------------------------------------------------------------------------------
// Diverging purple (negative) - white (0) - green (positive), symmetric around 0 (the ends of
// ColorBrewer's colour-blind safe PRGn), so it never competes with the page's teal (values) and
// red-orange (gradients).
export const NEG = [118, 42, 131], POS = [27, 120, 55];
const MID = [255, 255, 255];

export function heatColor(x, absmax) {
  if (!Number.isFinite(x)) return "#1c2430";
  if (!(absmax > 0)) return "#f8fafc";
  const t = Math.max(-1, Math.min(1, x / absmax));
  const end = t < 0 ? NEG : POS;
  const a = Math.sqrt(Math.abs(t)); // perceptual boost for small values
  const c = MID.map((m, i) => Math.round(m + (end[i] - m) * a));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// ---- geometry (shared with the layout worker) ---------------------------------------------------
export const HEAT = { maxCells: 16, target: 72, minCell: 5, maxCell: 15, pad: 7, gap: 8, header: 18 };

// The drawn grid: at most maxCells x maxCells cells; a bigger tensor is shown in blocks.
export function heatGeom(shape) {
  const [R, C] = gridDims(shape);
  const dr = Math.min(R, HEAT.maxCells), dc = Math.min(C, HEAT.maxCells);
  const cell = Math.max(HEAT.minCell, Math.min(HEAT.maxCell, Math.floor(HEAT.target / Math.max(dr, dc))));
  return { R, C, dr, dc, cell, w: dc * cell, h: dr * cell };
}

// A tensor node is a card: a header (name or symbol, and the shape) over a heatmap of the value and,
// for differentiable nodes, one of the gradient; summarized tensors show min/mean/max instead.
export function cardGeom({ shape, op, summary, header }) {
  const twin = op !== "const";
  const textW = 7.2 * String(header || "").length + 2 * HEAT.pad + 8;
  if (summary) {
    return { w: Math.max(150, textW), h: HEAT.header + (twin ? 34 : 20), twin, summary: true, hm: null };
  }
  const hm = heatGeom(shape);
  const body = twin ? 2 * hm.w + HEAT.gap : hm.w;
  return {
    w: Math.max(56, body + 2 * HEAT.pad, textW),
    h: HEAT.header + hm.h + HEAT.pad + 2,
    twin, summary: false, hm,
  };
}

// Mean of each displayed block (the element itself when the tensor fits the grid).
export function blockValues(v, shape, hm) {
  const out = new Array(hm.dr * hm.dc).fill(NaN);
  if (!Array.isArray(v) && typeof v !== "number") return out;
  for (let i = 0; i < hm.dr; i++) {
    const r0 = Math.floor((i * hm.R) / hm.dr), r1 = Math.max(r0 + 1, Math.floor(((i + 1) * hm.R) / hm.dr));
    for (let j = 0; j < hm.dc; j++) {
      const c0 = Math.floor((j * hm.C) / hm.dc), c1 = Math.max(c0 + 1, Math.floor(((j + 1) * hm.C) / hm.dc));
      let s = 0, k = 0, bad = false;
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          const x = at(v, shape, r, c);
          if (!Number.isFinite(x)) bad = true;
          s += x;
          k++;
        }
      }
      out[i * hm.dc + j] = bad ? NaN : s / k;
    }
  }
  return out;
}
