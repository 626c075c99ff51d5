// Which names of a program text are inputs, read from the text alone (no request): so the page sends
// only the values of inputs the new program has (a value for a name the program does not have is a
// 422 unknown_name, and a missing one a 422 missing_value). The engine stays the judge: a name this
// reading gets wrong costs one retry (api.js evaluateReconciled), never a wrong number.
//
// A program is statements separated by newlines or ";" outside brackets; "#" starts a comment. A
// statement `name = rhs` makes `name` an input when its first assignment's rhs is a number, a tensor
// literal or a call with number arguments only (`W = randn(3, 2)`), else a computed node. A function
// definition `sq(a) = a * a` (and its `with d/da = ...`) names nothing outside itself. A name used but
// never assigned (not called, not a keyword argument) is an input without a default.
// Pure; no DOM.

const NAME = /[\p{L}_][\p{L}\p{N}_]*/uy;
const DEF = /^\s*[\p{L}_][\p{L}\p{N}_]*\s*\([^()]*\)\s*=(?!=)/u;
const ASSIGN = /^\s*([\p{L}_][\p{L}\p{N}_]*)\s*=(?!=)([\s\S]*)$/u;
const NUMBER = /^[-+]?\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const TENSOR = /^\[[\d\s.,eE+\-[\]]*\]$/;
const CALL_OF_NUMBERS = /^[\p{L}_][\p{L}\p{N}_]*\s*\(([^()]*)\)$/u;

function statements(program) {
  const text = String(program || "").replace(/#[^\n]*/g, "");
  const out = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "[") depth++;
    else if ((c === ")" || c === "]") && depth > 0) depth--;
    else if ((c === "\n" || c === ";") && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter((s) => s.trim());
}

// The names an expression reads (not the ones it calls, not keyword arguments).
function namesRead(expr) {
  const out = [];
  for (let i = 0; i < expr.length; ) {
    NAME.lastIndex = i;
    const m = /[\p{L}_]/u.test(expr[i]) && !(i > 0 && /[\p{N}.]/u.test(expr[i - 1])) ? NAME.exec(expr) : null;
    if (!m) {
      i++;
      continue;
    }
    i = NAME.lastIndex;
    const rest = expr.slice(i).trimStart();
    if (rest.startsWith("(")) continue; // a call
    if (rest.startsWith("=") && !rest.startsWith("==")) continue; // axis=1
    out.push(m[0]);
  }
  return out;
}

const literal = (rhs) => {
  const s = rhs.trim();
  if (NUMBER.test(s) || TENSOR.test(s)) return true;
  const m = CALL_OF_NUMBERS.exec(s);
  return !!m && namesRead(m[1]).length === 0;
};

// {inputs: Set of names that are inputs, defaults: Set of those with a default in the text,
//  computed: Set of names assigned a computed value}
export function programNames(program) {
  const inputs = new Set(), defaults = new Set(), computed = new Set(), assigned = new Set();
  const read = new Set();
  for (const st of statements(program)) {
    if (DEF.test(st)) continue;
    const m = ASSIGN.exec(st);
    const rhs = m ? m[2] : st;
    for (const n of namesRead(rhs)) if (!assigned.has(n)) read.add(n);
    if (!m) continue;
    const name = m[1];
    if (assigned.has(name) || read.has(name)) continue; // its first use decides
    assigned.add(name);
    if (literal(rhs)) {
      inputs.add(name);
      defaults.add(name);
    } else {
      computed.add(name);
    }
  }
  for (const n of read) if (!assigned.has(n)) inputs.add(n);
  return { inputs, defaults, computed };
}

// The values worth sending with `program`: those of its inputs, and for an input without a default
// in the text the remembered value (else 1), as the engine would ask for it.
export function valuesFor(program, values, memory = {}) {
  const { inputs, defaults } = programNames(program);
  const out = {};
  for (const [k, v] of Object.entries(values || {})) if (inputs.has(k)) out[k] = v;
  for (const n of inputs) if (!defaults.has(n) && !(n in out)) out[n] = n in memory ? memory[n] : 1;
  return out;
}
