// Number formatting shared by every view (no DOM).

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
  return typeof v === "number" ? String(v) : v === null || v === undefined ? "" : String(v);
}
