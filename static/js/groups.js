// Groups of nodes and folding: statements, sub-expressions, and (later) user functions are all
// "groups": a head node (whose value leaves the group) and its members. Folding a group draws
// it as one box; the display graph maps every node to the node or box that stands for it.
// Pure functions of the evaluation document (and the program text for titles); no DOM.

// Consumers of every node (a node used twice by one gate appears twice).
export function consumersOf(doc) {
  const out = doc.nodes.map(() => []);
  for (const n of doc.nodes) for (const s of n.operands) out[s].push(n.id);
  return out;
}

// The statement each node belongs to: a labelled gate is the head of its own statement; an
// unlabelled gate or constant belongs to the statement of the gate that consumes it (reverse
// topological order, so one pass). Inputs belong to no statement (-1).
export function statementsOf(doc, consumers = consumersOf(doc)) {
  const N = doc.nodes.length;
  const stmt = new Int32Array(N).fill(-1);
  for (let k = N - 1; k >= 0; k--) {
    const n = doc.nodes[k];
    if (n.op === "input") continue;
    if (n.label && n.op !== "const") {
      stmt[k] = k;
      continue;
    }
    const c = consumers[k].find((id) => stmt[id] >= 0);
    stmt[k] = c === undefined ? k : stmt[c];
  }
  const members = new Map();
  for (let k = 0; k < N; k++) {
    if (stmt[k] < 0) continue;
    if (!members.has(stmt[k])) members.set(stmt[k], []);
    members.get(stmt[k]).push(k);
  }
  return { stmt, members };
}

// A node and the unlabelled gates and constants that only feed it (its own sub-expression),
// stopping at inputs, named nodes and nodes used elsewhere.
export function subexpressionOf(doc, id, consumers = consumersOf(doc)) {
  const inside = new Set([id]);
  const stack = [...doc.nodes[id].operands];
  while (stack.length) {
    const s = stack.pop();
    if (inside.has(s)) continue;
    const n = doc.nodes[s];
    if (n.op === "input" || (n.label && n.op !== "const")) continue;
    if (!consumers[s].every((c) => inside.has(c))) continue;
    inside.add(s);
    stack.push(...n.operands);
  }
  return [...inside].sort((a, b) => a - b);
}

// A key for a node that survives re-evaluation and edits elsewhere in the program: its label
// (with "~k" for the k-th reassignment of the same name), else its op and source text, else "#id".
export function nodeKey(doc, id, program = doc.program) {
  const n = doc.nodes[id];
  if (!n) return null;
  if (n.label) {
    let k = 0;
    for (let j = 0; j < id; j++) if (doc.nodes[j].label === n.label && doc.nodes[j].op !== "const") k++;
    return k ? `${n.label}~${k}` : n.label;
  }
  const src = sourceText(program, n.span);
  return src ? `${n.op}:${src}` : `#${id}`;
}

// Every node's key in one pass (findByKey on a 20,000-node program stays linear).
export function keysOf(doc, program = doc.program) {
  const seen = new Map();
  return doc.nodes.map((n) => {
    if (n.label) {
      const k = seen.get(n.label) || 0;
      if (n.op !== "const") seen.set(n.label, k + 1);
      return k ? `${n.label}~${k}` : n.label;
    }
    const src = sourceText(program, n.span);
    return src ? `${n.op}:${src}` : `#${n.id}`;
  });
}

export function findByKey(doc, key, program = doc.program) {
  if (key === null || key === undefined) return null;
  if (/^#\d+$/.test(key)) {
    const id = Number(key.slice(1));
    return id < doc.nodes.length ? id : null;
  }
  if (/^\d+$/.test(key)) return Number(key) < doc.nodes.length ? Number(key) : null; // old numeric sel=
  const id = keysOf(doc, program).indexOf(key);
  return id < 0 ? null : id;
}

export function sourceText(program, span) {
  if (!program || !span || !(span.end > span.start)) return "";
  return program.slice(span.start, span.end).replace(/\s+/g, " ").trim();
}

// The statement's text ("h = x*x + x*x*x"), shortened for a box title.
export function statementText(doc, head, program = doc.program, max = 40) {
  const n = doc.nodes[head];
  const rhs = sourceText(program, n.span) || n.op;
  const s = n.label ? `${n.label} = ${rhs}` : rhs;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

// Every group the page knows: statements with more than one node, and the sub-expression of
// every unlabelled gate with more than one node. {key, kind, head, members, title}.
export function groupsOf(doc, program = doc.program) {
  const consumers = consumersOf(doc);
  const { stmt, members } = statementsOf(doc, consumers);
  const keys = keysOf(doc, program);
  const groups = new Map();
  for (const [head, ms] of members) {
    if (ms.length < 2) continue;
    const key = `s:${keys[head]}`;
    groups.set(key, { key, kind: "statement", head, members: ms, title: statementText(doc, head, program) });
  }
  for (const g of callGroupsOf(doc)) groups.set(g.key, g);
  for (const g of adjointGroupsOf(doc)) groups.set(g.key, g);
  return { groups, stmt, consumers, keys };
}

// The document's own groups (docs/contract.md "groups") of one kind: nodes first..last, last holding
// the value. Key "<prefix>:<text>~k" (the k-th group with that text), title the text.
function docGroupsOf(doc, kind, prefix) {
  const out = [];
  const seen = new Map();
  for (const g of doc.groups || []) {
    if (g.kind !== kind || !(g.last >= g.first) || g.last >= doc.nodes.length) continue;
    const k = seen.get(g.text) || 0;
    seen.set(g.text, k + 1);
    const members = [];
    for (let i = g.first; i <= g.last; i++) members.push(i);
    const title = g.text.length > 40 ? `${g.text.slice(0, 39)}…` : g.text;
    out.push({ key: `${prefix}:${g.text}~${k}`, kind, head: g.last, members, title, name: g.name });
  }
  return out;
}

// A call of a user function (key "c:<text>~k", title the call's text). Calls are drawn folded unless
// the user opened them.
export const callGroupsOf = (doc) => docGroupsOf(doc, "call", "c");

// The adjoint layers grad() wrote (key "a:<text>~k", title the call, "grad(f, x)"). Drawn open (the
// layer is the point: backprop is itself a graph); folding one is listed in state.folded like a
// statement, so it is in the URL hash (fold=a:grad(f, x)~0).
export const adjointGroupsOf = (doc) => docGroupsOf(doc, "adjoint", "a");

// The ids of the nodes grad() wrote (groups of kind "adjoint"): the backward pass as gates.
export function adjointNodesOf(doc) {
  const out = new Set();
  for (const g of doc.groups || []) {
    if (g.kind !== "adjoint") continue;
    for (let i = g.first; i <= g.last && i < doc.nodes.length; i++) out.add(i);
  }
  return out;
}

export const isCallKey = (key) => typeof key === "string" && key.startsWith("c:");

export function subexpressionGroup(doc, id, program = doc.program, consumers = consumersOf(doc), keys = null) {
  const members = subexpressionOf(doc, id, consumers);
  if (members.length < 2) return null;
  const key = `e:${keys ? keys[id] : nodeKey(doc, id, program)}`;
  const src = sourceText(program, doc.nodes[id].span) || doc.nodes[id].op;
  return { key, kind: "expression", head: id, members, title: src.length > 40 ? `${src.slice(0, 39)}…` : src };
}

// Resolve folded keys into groups (unknown keys are dropped; a group inside a folded group is
// dropped too: the outer box already hides it).
// Call groups are folded by default: every call whose key is not in `opened` is folded too.
export function resolveFolds(doc, keys, program = doc.program, opened = null) {
  const calls = (doc.groups || []).length ? callGroupsOf(doc).filter((g) => !(opened || []).includes(g.key)) : [];
  if ((!keys || !keys.length) && !calls.length) return [];
  const { groups, consumers, keys: nodeKeys } = groupsOf(doc, program);
  const out = [...calls];
  for (const key of keys || []) {
    if (calls.some((g) => g.key === key)) continue;
    let g = groups.get(key);
    if (!g && key.startsWith("e:")) {
      const id = nodeKeys.indexOf(key.slice(2));
      if (id >= 0) g = subexpressionGroup(doc, id, program, consumers, nodeKeys);
    }
    if (g) out.push(g);
  }
  out.sort((a, b) => b.members.length - a.members.length);
  const taken = new Set();
  const kept = [];
  for (const g of out) {
    if (g.members.some((m) => taken.has(m))) continue;
    for (const m of g.members) taken.add(m);
    kept.push(g);
  }
  return kept;
}

// The drawn graph. rep[id] is the id of the node that stands for node id (itself, or the head of
// its folded group). Edges keep their ids (e<target>_<index>); an edge inside a folded group is
// hidden; the others run between representatives.
export function displayGraph(doc, folds = []) {
  const N = doc.nodes.length;
  const rep = new Int32Array(N);
  for (let i = 0; i < N; i++) rep[i] = i;
  const groupOf = new Map();
  for (const g of folds) {
    for (const m of g.members) rep[m] = g.head;
    groupOf.set(g.head, g);
  }
  const nodes = [];
  for (let i = 0; i < N; i++) if (rep[i] === i) nodes.push(i);
  const edges = [];
  const hidden = new Set();
  const inCount = new Map();
  for (const n of doc.nodes) {
    n.operands.forEach((src, i) => {
      const id = `e${n.id}_${i}`;
      const s = rep[src], t = rep[n.id];
      if (s === t) {
        hidden.add(id);
        return;
      }
      const port = inCount.get(t) || 0;
      inCount.set(t, port + 1);
      edges.push({ id, source: s, target: t, port, origSource: src, origTarget: n.id, index: i });
    });
  }
  return { rep, nodes, edges, hidden, groupOf, folded: folds.map((g) => g.key), inCount };
}
