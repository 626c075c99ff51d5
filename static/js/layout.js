// Pure layout helpers shared by the layout worker (and the benchmark): build a Graphviz DOT
// description from the graph *structure* and turn Graphviz's json0 output into plain geometry.
// No DOM, no values: a layout depends only on structure, so it can be cached by structureKey().
// In tensor mode shapes are structure too (a tensor node's card is sized by its shape).
import { endOnOutline, f1, flatten } from "./geometry.js";
import { cardGeom, isSummary, isTensorShape, shapeText } from "./tensor.js";

export const SIZES = {
  gate: 40,        // gate circle diameter (px == Graphviz points)
  inputH: 30,      // input box height
  constD: 26,      // constant circle diameter
  stub: 64,        // length of the output stub edge drawn right of the output node
};

// A stable key for the structure of an evaluation: ops, operands, labels, constant values
// (plus the folded groups and the presenter spacing: both change the drawing).
export function structureKey(nodes, outputId, extra = "") {
  let s = `o${outputId}|${extra}|`;
  for (const n of nodes) {
    s += `${n.op}:${n.operands.join(",")}:${n.label ?? ""}`;
    if (isTensorShape(n.shape)) s += `#${n.shape.join("x")}${isSummary(n.value) ? "s" : ""}`;
    if (n.op === "const") s += `=${isTensorShape(n.shape) ? "" : n.value}`;
    s += ";";
  }
  return s;
}

// The minimal structure the worker needs: the drawn nodes (a folded group is one node with a
// title) and edges, no values except constants, which are structural. `display` comes from
// groups.displayGraph(); without it every node is drawn.
export function structureOf(doc, ops = null, display = null, opts = {}) {
  const ids = display ? display.nodes : doc.nodes.map((n) => n.id);
  const edges = display ? display.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, port: e.port }))
    : doc.nodes.flatMap((n) => n.operands.map((src, i) => ({ id: `e${n.id}_${i}`, source: src, target: n.id, port: i })));
  const inCount = new Map();
  for (const e of edges) inCount.set(e.target, (inCount.get(e.target) || 0) + 1);
  return {
    outputId: display ? display.rep[doc.output_id] : doc.output_id,
    present: !!opts.present,
    nodes: ids.map((id) => {
      const n = doc.nodes[id];
      const g = display ? display.groupOf.get(id) : null;
      if (g) return { id, op: "group", label: n.label ?? null, title: g.title, ports: inCount.get(id) || 0 };
      const tensor = isTensorShape(n.shape);
      return {
        id, op: n.op, label: n.label ?? null, ports: inCount.get(id) || 0,
        text: n.op === "const" && !tensor ? formatConst(n.value) : null,
        shape: tensor ? n.shape : null,
        summary: tensor && isSummary(n.value),
        header: tensor ? `${cardTitle(n, ops)}  ${shapeText(n.shape)}` : null,
        sym: !tensor && n.op !== "input" && n.op !== "const" ? cardTitle(n, ops) : null,
      };
    }),
    edges,
  };
}

// The left part of a tensor card's header: the input's name, the gate's symbol, or "const".
export function cardTitle(n, ops = null) {
  if (n.op === "input") return n.label ?? "";
  if (n.op === "const") return "const";
  const meta = ops && ops.get ? ops.get(n.op) : null;
  return meta ? meta.symbol : n.op;
}

export function formatConst(v) {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  const s = v.toPrecision(4);
  return String(Number(s));
}

export function nodeSize(n) {
  if (n.op === "group") {
    const len = [...String(n.title ?? "")].length;
    return { w: Math.max(64, Math.round(7.2 * len + 24)), h: 34, shape: "group" };
  }
  if (n.shape) {
    const g = cardGeom(n);
    return { w: Math.round(g.w), h: Math.round(g.h), shape: "tensor" };
  }
  if (n.op === "input") {
    const len = String(n.label ?? "").length;
    return { w: Math.max(40, 9 * len + 22), h: SIZES.inputH, shape: "input" };
  }
  if (n.op === "const") {
    const len = String(n.text ?? "").length;
    const w = Math.max(SIZES.constD, 7 * len + 12);
    return { w, h: SIZES.constD, shape: "const" };
  }
  // a gate whose symbol is a word (softmax+CE, log softmax) is a pill wide enough for it
  const len = n.sym ? [...n.sym].length : 0;
  if (len > 4) return { w: Math.round(7.4 * len + 18), h: SIZES.gate, shape: "gate" };
  return { w: SIZES.gate, h: SIZES.gate, shape: "gate" };
}

const IN = 72; // points per inch

// Shapes whose operands enter at distinct ports (a record node with one port per in-edge).
function ported(n) {
  return n.ports > 1 && ["gate", "tensor", "group"].includes(nodeSize(n).shape);
}

export function buildDot(structure, opts = {}) {
  const big = structure.nodes.length > 400;
  const present = structure.present;
  const lines = [
    "digraph G {",
    "rankdir=LR;",
    `nodesep=${opts.nodesep ?? (structure.nodes.length < 40 ? (present ? 0.85 : 0.75) : 0.62)}; `
      + `ranksep=${opts.ranksep ?? (present ? 1.5 : 1.15)};`,
    "splines=true; outputorder=edgesfirst;",
    big ? "nslimit=2; nslimit1=2; mclimit=0.3; searchsize=10;" : "",
    'node [fixedsize=true, label="", shape=box];',
    "edge [dir=none];",
  ];
  const inputs = [];
  const byId = new Map(structure.nodes.map((n) => [n.id, n]));
  for (const n of structure.nodes) {
    const sz = nodeSize(n);
    const w = (sz.w / IN).toFixed(4);
    const h = (sz.h / IN).toFixed(4);
    if (ported(n)) {
      const ports = Array.from({ length: n.ports }, (_, i) => `<i${i}>`).join("|");
      lines.push(`n${n.id} [shape=record, label="${ports}", width=${w}, height=${h}];`);
    } else {
      lines.push(`n${n.id} [width=${w}, height=${h}];`);
    }
    if (n.op === "input") inputs.push(`n${n.id}`);
  }
  if (inputs.length > 1) lines.push(`{rank=min; ${inputs.join("; ")};}`);
  if (structure.outputId != null && structure.nodes.length > 1) {
    lines.push(`{rank=max; n${structure.outputId};}`);
  }
  for (const e of structure.edges) {
    const port = ported(byId.get(e.target)) ? ` headport="i${e.port}:w",` : "";
    lines.push(`n${e.source} -> n${e.target} [${port} id="${e.id}"];`);
  }
  lines.push("}");
  return lines.join("\n");
}

function parsePoints(pos) {
  // "x,y x,y ..." possibly prefixed by "s,x,y" / "e,x,y" (absent because dir=none)
  const pts = [];
  for (const tok of pos.trim().split(/\s+/)) {
    const parts = tok.split(",");
    if (parts[0] === "s" || parts[0] === "e") continue;
    pts.push([+parts[0], +parts[1]]);
  }
  return pts;
}

// Convert Graphviz json0 output into {width, height, nodes: {id: {x,y,w,h,shape}},
// edges: {id: {source, target, port, p, ex, ey}}} with y pointing down (SVG convention).
export function parseLayout(json, structure) {
  const bb = json.bb.split(",").map(Number);
  const H = bb[3];
  const nodes = {};
  const kinds = new Map(structure.nodes.map((n) => [n.id, n]));
  for (const o of json.objects || []) {
    if (!o.name || o.name[0] !== "n") continue;
    const id = Number(o.name.slice(1));
    const [x, y] = o.pos.split(",").map(Number);
    const sz = nodeSize(kinds.get(id));
    nodes[id] = { x, y: H - y, w: sz.w, h: sz.h, shape: sz.shape };
  }
  const edges = {};
  const byId = new Map(structure.edges.map((e) => [e.id, e]));
  for (const e of json.edges || []) {
    const se = byId.get(e.id);
    if (!se) continue;
    const pts = parsePoints(e.pos).map(([x, y]) => [f1(x), f1(H - y)]);
    const end = endOnOutline(nodes[se.target], pts[pts.length - 1]);
    edges[se.id] = { source: se.source, target: se.target, port: se.port, p: flatten(pts), ex: f1(end[0]), ey: f1(end[1]) };
  }
  return { width: bb[2], height: H, nodes, edges, engine: "dot" };
}

// ---- transfer: a layout crosses from the worker as typed arrays (moved, not copied), then becomes
// plain objects again here; a 20,000-node layout as objects took longer to clone than to compute.
const SHAPES = ["gate", "input", "const", "tensor", "group"];

export function packLayout(layout, structure) {
  const N = structure.nodes.length, E = structure.edges.length;
  const geo = new Float64Array(4 * N);
  const shape = new Uint8Array(N);
  structure.nodes.forEach((n, i) => {
    const g = layout.nodes[n.id];
    geo.set([g.x, g.y, g.w, g.h], 4 * i);
    shape[i] = SHAPES.indexOf(g.shape);
  });
  let total = 0;
  for (const e of structure.edges) total += layout.edges[e.id] ? layout.edges[e.id].p.length : 0;
  const pts = new Float64Array(total);
  const off = new Int32Array(E + 1);
  const ends = new Float64Array(2 * E);
  let k = 0;
  structure.edges.forEach((e, i) => {
    off[i] = k;
    const g = layout.edges[e.id];
    if (!g) return;
    pts.set(g.p, k);
    k += g.p.length;
    ends[2 * i] = g.ex;
    ends[2 * i + 1] = g.ey;
  });
  off[E] = k;
  const meta = { width: layout.width, height: layout.height, engine: layout.engine, bands: layout.bands || 1,
    layers: layout.layers || null };
  return { meta, geo, shape, pts, off, ends, transfer: [geo.buffer, shape.buffer, pts.buffer, off.buffer, ends.buffer] };
}

export function unpackLayout(packed, structure) {
  const { meta, geo, shape, pts, off, ends } = packed;
  const nodes = {};
  structure.nodes.forEach((n, i) => {
    nodes[n.id] = { x: geo[4 * i], y: geo[4 * i + 1], w: geo[4 * i + 2], h: geo[4 * i + 3], shape: SHAPES[shape[i]] };
  });
  const edges = {};
  structure.edges.forEach((e, i) => {
    if (off[i + 1] === off[i]) return;
    edges[e.id] = { source: e.source, target: e.target, port: e.port, p: pts.subarray(off[i], off[i + 1]),
      ex: ends[2 * i], ey: ends[2 * i + 1] };
  });
  return { ...meta, nodes, edges };
}
