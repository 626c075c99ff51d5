// Number formatting shared by every view (no DOM).

// A number quiz mode keeps from the learner (quiz.js masks the document with it): it prints as "?",
// is "" in data-* attributes and null in JSON, and arithmetic on it gives NaN, never a number.
export const HIDDEN = Object.freeze({ hidden: true, toString: () => "?", toJSON: () => null });
export function isHidden(v) {
  return v === HIDDEN;
}

// Short form for labels on the circuit: integers as-is, others to 4 significant digits.
export function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "−∞";
  if (Object.is(v, -0)) return "0";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return minus(String(v));
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return minus(v.toExponential(Math.max(0, digits - 2)));
  return minus(String(Number(v.toPrecision(digits))));
}

// Full precision (inspector, tables): shortest round-trip representation.
export function fmtFull(v) {
  if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
  if (!Number.isFinite(v)) return fmt(v);
  return minus(String(v));
}

// ASCII form for chain-rule lines and copy/paste (no typographic minus).
export function fmtAscii(v, digits = 6) {
  if (typeof v !== "number") return String(v);
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  return String(Number(v.toPrecision(digits)));
}

function minus(s) {
  return s.replace(/^-/, "−").replace(/e-/, "e−");
}

// Machine-readable form for data-* attributes (tests, exports): JS round-trip repr.
export function raw(v) {
  return typeof v === "number" ? String(v) : v === null || v === undefined || v === HIDDEN ? "" : String(v);
}

// A number in the page's language with Intl.NumberFormat (lesson narration): `digits` significant
// digits, or `decimals` decimal places, or in full (the shortest text that reads back as the same
// number, as String(x) gives it); a typographic minus like the rest of the page.
const NUMBER_FORMATS = new Map();
export function fmtLocale(v, lang = "en", { digits = null, decimals = null } = {}) {
  if (v === HIDDEN) return "?";
  if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
  if (!Number.isFinite(v)) return fmt(v);
  if (v === 0) v = 0; // -0 prints as 0 (as the server's text has it)
  const opts = { useGrouping: Math.abs(v) >= 1e4 };
  if (digits) opts.maximumSignificantDigits = digits;
  else if (decimals !== null && decimals !== undefined) {
    opts.maximumFractionDigits = decimals;
    opts.minimumFractionDigits = 0;
  } else {
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-6 || a >= 1e21)) return minus(String(v)); // (Intl has no shortest-round-trip form there)
    opts.maximumSignificantDigits = Math.min(21, Math.max(1, significantDigits(v)));
  }
  const key = `${lang}|${JSON.stringify(opts)}`;
  let f = NUMBER_FORMATS.get(key);
  if (!f) {
    f = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US", opts);
    NUMBER_FORMATS.set(key, f);
  }
  return f.format(v).replace(/^-/, "−");
}

// Significant digits of the shortest round-trip text of v ("0.30000000000000004" -> 17, "120" -> 2).
function significantDigits(v) {
  const m = /^-?(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(v));
  if (!m) return 17;
  const digits = (m[1] + (m[2] || "")).replace(/^0+/, "");
  return digits.replace(/0+$/, "").length || 1;
}
