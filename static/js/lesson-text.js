// Lesson text from the API (docs/lessons.md, `rendered` = {template, text, masked, placeholders}),
// written into the page: every placeholder's raw number formatted for the page's language with
// Intl.NumberFormat (format.js fmtLocale), text in backticks as <code>, everything else as text
// nodes (never innerHTML: lesson text is data). Placeholders quiz mode hides print as "?".
import { fmtLocale, HIDDEN } from "./format.js";

// A placeholder's value (a number, or a nested list for a tensor) in the page's language.
// A number rounded to `digits` below 1e-6 (or from 1e21) keeps JavaScript's exponent form, as the
// server's text has it ("1.4e−11", not Intl's "0.000000000014").
export function placeholderText(ph, lang) {
  const opts = { digits: ph.digits ?? null, decimals: ph.decimals ?? null };
  const tiny = (v) => opts.digits && v !== 0 && Number.isFinite(v) && (Math.abs(v) < 1e-6 || Math.abs(v) >= 1e21);
  const num = (v) => (tiny(v) ? String(Number(v.toPrecision(opts.digits))).replace(/-/g, "−") : fmtLocale(v, lang, opts));
  const one = (v) => (Array.isArray(v) ? `[${v.map(one).join(", ")}]` : typeof v === "number" ? num(v)
    : v === "NaN" || v === "Infinity" || v === "-Infinity" ? fmtLocale(Number(v), lang) : String(v ?? ph.text ?? ""));
  return one(ph.value);
}

// The template with its placeholders filled; hide(ph) -> true prints "?" instead of the number.
export function fillTemplate(rendered, lang, hide = null) {
  const phs = new Map((rendered.placeholders || []).map((p) => [p.key, p]));
  const tmpl = rendered.template ?? rendered.text ?? "";
  let out = "";
  for (let i = 0; i < tmpl.length;) {
    if (tmpl.startsWith("{{", i)) {
      out += "{";
      i += 2;
    } else if (tmpl.startsWith("}}", i)) {
      out += "}";
      i += 2;
    } else if (tmpl[i] === "{" && tmpl.indexOf("}", i) > i) {
      const j = tmpl.indexOf("}", i);
      const ph = phs.get(tmpl.slice(i + 1, j));
      out += ph ? (hide && hide(ph) ? String(HIDDEN) : placeholderText(ph, lang)) : tmpl.slice(i, j + 1);
      i = j + 1;
    } else out += tmpl[i++];
  }
  return out;
}

// Write text with `code` spans into el (text nodes and <code> elements only).
export function writeRich(el, text) {
  const parts = String(text).split("`");
  const nodes = [];
  parts.forEach((p, k) => {
    if (!p) return;
    if (k % 2 && k < parts.length - 1) {
      const c = document.createElement("code");
      c.textContent = p;
      nodes.push(c);
    } else nodes.push(document.createTextNode(k % 2 ? `\`${p}` : p)); // an unmatched backtick stays
  });
  el.replaceChildren(...nodes);
  return el;
}

export function renderLessonText(el, rendered, lang, hide = null) {
  if (!rendered) {
    el.replaceChildren();
    return el;
  }
  return writeRich(el, fillTemplate(rendered, lang, hide));
}
