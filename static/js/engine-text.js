// The engine's English notes in the page's language: a node's reason for a non-finite value
// ("log of zero", "non-finite operand (n5)") and the numerical check's note on an input. The engine
// writes them in English (API clients read them); the page recognises the ones it knows by their
// pattern and shows the catalogue's text (keys reason.* and note.*), naming nodes the way the page
// does (n5 -> its name). Anything it does not recognise stays as the engine wrote it.
// No DOM; the patterns follow app/engine (ops.py domains, document.py, numeric.py).
import { t } from "./strings.js";

const nodeRef = (doc, ref, nameOf) => {
  const k = Number(ref);
  return doc && nameOf && Number.isInteger(k) && doc.nodes && doc.nodes[k] ? nameOf(doc, k) : `n${ref}`;
};

// [pattern, key, (match) -> vars]
const REASONS = [
  [/^overflow: the result is beyond the float64 range$/, "reason.overflow"],
  [/^division by zero$/, "reason.division_by_zero"],
  [/^zero to a negative power$/, "reason.zero_negative_power"],
  [/^negative number to a fractional power$/, "reason.negative_fractional_power"],
  [/^log of zero$/, "reason.log_zero"],
  [/^log of a negative number$/, "reason.log_negative"],
  [/^square root of a negative number$/, "reason.sqrt_negative"],
  [/^sine of infinity$/, "reason.sin_infinity"],
  [/^cosine of infinity$/, "reason.cos_infinity"],
  [/^a non-finite value$/, "reason.nonfinite_value"],
  [/^the value is not finite$/, "reason.value_not_finite"],
  [/^the gradient is not finite$/, "reason.grad_not_finite"],
  [/^non-finite operand \(n(\d+)\)$/, "reason.nonfinite_operand", (m, ref) => ({ node: ref(m[1]) })],
  [/^the gradient was computed through a non-finite value \(n(\d+)\)$/, "reason.grad_through_nonfinite", (m, ref) => ({ node: ref(m[1]) })],
];

/** A node's reason (document `reason`) in the page's language. `nameOf(doc, id)` names a node. */
export function reasonText(reason, doc = null, nameOf = null) {
  if (!reason) return reason;
  const ref = (k) => nodeRef(doc, k, nameOf);
  let s = String(reason);
  // "(at element [0, 1])" after an elementwise reason, "inside f: ..." around a user gate's
  const at = /^(.*) \(at element (\[[\d, ]*\])\)$/.exec(s);
  if (at) return t("reason.at_element", { reason: reasonText(at[1], doc, nameOf), index: at[2] });
  const inside = /^inside ([^:]+): (.*)$/.exec(s);
  if (inside) return t("reason.inside", { name: inside[1], reason: reasonText(inside[2], doc, nameOf) });
  for (const [re, key, vars] of REASONS) {
    const m = re.exec(s);
    if (m) return t(key, vars ? vars(m, ref) : null);
  }
  return s;
}

const NOTES = [
  [/^a non-finite value on the path makes the comparison meaningless$/, "note.nonfinite_path"],
  [/^a non-finite value makes the comparison meaningless$/, "note.nonfinite"],
  [/^non-smooth point: (.*) sits on a kink, where the slopes from the left and the right differ; the analytic value uses the documented convention(?: \((.*)\))?$/s,
    "note.kink", kinkVars],
  [/^mismatch: the derivative declared by your gate (.*) is wrong \(see gates\)$/, "note.declared_wrong", (m) => ({ gates: m[1] })],
  [/^your derivative of (\S+) with respect to (\S+) \(d\/d\S+ = (.*)\) disagrees with finite differences of its body \((\S+) declared, (\S+) measured\): your backward is wrong here$/s,
    "note.gate_wrong", (m) => ({ op: m[1], param: m[2], deriv: m[3], declared: m[4], measured: m[5] })],
];

// "n1 (relu), n4 (max)": the gates by the page's names, and each op's convention from the catalogue
// (op.<name>.convention, the registry's text in English); the engine's list when an op has none there
function kinkVars(m, ref) {
  const ops = [];
  const gates = m[1].replace(/\bn(\d+) \(([A-Za-z_]\w*)\)/g, (all, k, op) => {
    ops.push(op);
    return `${ref(k)} (${op})`;
  });
  const conv = [...new Set(ops)].map((op) => [op, t(`op.${op}.convention`)]);
  const known = conv.every(([op, s]) => s !== `op.${op}.convention`);
  const list = known ? [...new Set(conv.map(([, s]) => s))].sort().join("; ") : m[2];
  return { gates, conventions: list ? ` (${list})` : "" };
}

/** The numerical check's note on an input or a gate, in the page's language (nodes named by `nameOf`). */
export function noteText(note, doc = null, nameOf = null) {
  const ref = (k) => nodeRef(doc, k, nameOf);
  if (!note) return note;
  let s = String(note);
  const m0 = /^mismatch: try another h \(round-off grows as h shrinks, truncation as it grows\)((?:; .*)?)$/s.exec(s);
  if (m0) {
    let out = t("note.try_h");
    if (m0[1].includes("one-sided differences")) out += t("note.one_sided");
    if (m0[1].includes("sampled elements")) out += t("note.sampled");
    return out;
  }
  for (const [re, key, vars] of NOTES) {
    const m = re.exec(s);
    if (m) return t(key, vars ? vars(m, ref) : null);
  }
  return s;
}

// "line 3, column 5, line 4, column 1 and 2 more" in the page's language
function whereText(where) {
  return where.replace(/line (\d+), column (\d+)/g, (m, line, column) => t("warn.at", { line, column }))
    .replace(/ and (\d+) more$/, (m, n) => t("warn.and_more", { count: Number(n) }));
}
const shownText = (v) => ({ "-Infinity": "−∞", Infinity: "∞", NaN: "NaN" })[v] ?? v;

const WARNINGS = [
  [/^n(\d+) \(([^)]+)\) passes no gradient: its local gradients are 0 \(a comparison, step or lookup\)$/,
    "warn.no_gradient", (m, ref) => ({ node: ref(m[1]), op: m[2] })],
  [/^and (\d+) more gates that pass no gradient$/, "warn.more_no_gradient", (m) => ({ count: Number(m[1]) })],
  [/^input (\S+) does not reach the output: its gradient is 0$/, "warn.not_reached", (m) => ({ name: m[1] })],
  [/^the gradient of (\S+) was computed through a non-finite value \(n(\d+), ([^)]+)\): it is not meaningful$/,
    "warn.grad_through", (m, ref) => ({ name: m[1], node: ref(m[2]), op: m[3] })],
  [/^the output has shape (\[[\d, ]*\]): gradients are of sum\(output\) \(an upstream gradient of ones\)$/,
    "warn.output_shape", (m) => ({ shape: m[1] })],
  [/^replaced '(.)' (U\+[0-9A-F]{4,6})(?: \([^)]*\))? with '(.)' \((.*)\): typed with an input method or copied from formatted text$/su,
    "warn.replaced", (m) => ({ char: m[1], code: m[2], with: m[3], where: whereText(m[4]) })],
  [/^n(\d+) \(([^)]+)\): (.*?)(?: -> (-?Infinity|NaN))?$/s, "warn.nonfinite", (m, ref, doc, nameOf) => ({
    node: ref(m[1]), op: m[2], reason: reasonText(m[3], doc, nameOf), shown: m[4] ? ` → ${shownText(m[4])}` : "" })],
];

/** One of the document's `warnings` in the page's language, or null when the page does not know it
 * (then it is shown as the engine wrote it, marked as English). */
export function warningText(warning, doc = null, nameOf = null) {
  const ref = (k) => nodeRef(doc, k, nameOf);
  const s = String(warning || "");
  for (const [re, key, vars] of WARNINGS) {
    const m = re.exec(s);
    if (m) return t(key, vars(m, ref, doc, nameOf));
  }
  return null;
}
