// Pure layout helpers shared by the layout worker (and the benchmark): build a Graphviz DOT
// description from the graph *structure* and turn Graphviz's json0 output into plain geometry.
// No DOM, no values: a layout depends only on structure, so it can be cached by structureKey().
// In tensor mode shapes are structure too (a tensor node's card is sized by its shape).
import { cardGeom, isSummary, isTensorShape, shapeText } from "./tensor.js";

export const SIZES = {
  gate: 40,        // gate circle diameter (px == Graphviz points)
  inputH: 30,      // input box height
  constD: 26,      // constant circle diameter
  stub: 64,        // length of the output stub edge drawn right of the output node
};

// A stable key for the structure of an evaluation: ops, operands, labels, constant values.
export function structureKey(nodes, outputId) {
  let s = `o${outputId}|`;
  for (const n of nodes) {
    s += `${n.op}:${n.operands.join(",")}:${n.label ?? ""}`;
    if (isTensorShape(n.shape)) s += `#${n.shape.join("x")}${isSummary(n.value) ? "s" : ""}`;
    if (n.op === "const") s += `=${isTensorShape(n.shape) ? "" : n.value}`;
    s += ";";
  }
  return s;
}

// The minimal structure the worker needs (no values except constants, which are structural).
export function structureOf(doc, ops = null) {
  return {
    outputId: doc.output_id,
    nodes: doc.nodes.map((n) => {
      const tensor = isTensorShape(n.shape);
      return {
        id: n.id, op: n.op, label: n.label ?? null, operands: n.operands,
        text: n.op === "const" && !tensor ? formatConst(n.value) : null,
        shape: tensor ? n.shape : null,
        summary: tensor && isSummary(n.value),
        header: tensor ? `${cardTitle(n, ops)}  ${shapeText(n.shape)}` : null,
        sym: !tensor && n.op !== "input" && n.op !== "const" ? cardTitle(n, ops) : null,
      };
    }),
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

export function buildDot(structure, opts = {}) {
  const big = structure.nodes.length > 400;
  const lines = [
    "digraph G {",
    "rankdir=LR;",
    `nodesep=${opts.nodesep ?? (structure.nodes.length < 40 ? 0.75 : 0.62)}; ranksep=${opts.ranksep ?? 1.15};`,
    "splines=true; outputorder=edgesfirst;",
    big ? "nslimit=2; nslimit1=2; mclimit=0.3; searchsize=10;" : "",
    'node [fixedsize=true, label="", shape=box];',
    "edge [dir=none];",
  ];
  const inputs = [];
  for (const n of structure.nodes) {
    const sz = nodeSize(n);
    const w = (sz.w / IN).toFixed(4);
    const h = (sz.h / IN).toFixed(4);
    if ((sz.shape === "gate" || sz.shape === "tensor") && n.operands.length > 1) {
      const ports = n.operands.map((_, i) => `<i${i}>`).join("|");
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
  for (const n of structure.nodes) {
    const multi = n.operands.length > 1 && ["gate", "tensor"].includes(nodeSize(n).shape);
    n.operands.forEach((src, i) => {
      const port = multi ? ` headport="i${i}:w",` : "";
      lines.push(`n${src} -> n${n.id} [${port} id="e${n.id}_${i}"];`);
    });
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

function cubicAt(p0, p1, p2, p3, t) {
  const u = 1 - t;
  const a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
  return [a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]];
}

// Point and unit tangent at a fraction `f` of the way through a Graphviz spline (by segment).
function splinePoint(pts, f) {
  const nseg = Math.max(1, Math.floor((pts.length - 1) / 3));
  const x = Math.min(nseg - 1e-9, f * nseg);
  const k = Math.floor(x);
  const t = x - k;
  const p = pts.slice(3 * k, 3 * k + 4);
  if (p.length < 4) return { x: pts[0][0], y: pts[0][1], dx: 1, dy: 0 };
  const a = cubicAt(p[0], p[1], p[2], p[3], t);
  const b = cubicAt(p[0], p[1], p[2], p[3], Math.min(1, t + 0.02));
  const c = cubicAt(p[0], p[1], p[2], p[3], Math.max(0, t - 0.02));
  let dx = b[0] - c[0], dy = b[1] - c[1];
  const len = Math.hypot(dx, dy) || 1;
  dx /= len; dy /= len;
  return { x: a[0], y: a[1], dx, dy };
}

// Convert Graphviz json0 output into {width, height, nodes: {id: {x,y,w,h}}, edges: {id: {...}}}
// with y pointing down (SVG convention).
export function parseLayout(json, structure) {
  const bb = json.bb.split(",").map(Number);
  const H = bb[3];
  const byGvid = new Map();
  const nodes = {};
  const kinds = new Map(structure.nodes.map((n) => [n.id, n]));
  for (const o of json.objects || []) {
    if (!o.name || o.name[0] !== "n") continue;
    const id = Number(o.name.slice(1));
    const [x, y] = o.pos.split(",").map(Number);
    const n = kinds.get(id);
    const sz = nodeSize(n);
    nodes[id] = { x, y: H - y, w: sz.w, h: sz.h, shape: sz.shape };
    byGvid.set(o._gvid, id);
  }
  const edges = {};
  const pairTotal = new Map();
  for (const e of json.edges || []) pairTotal.set(`${e.tail}>${e.head}`, (pairTotal.get(`${e.tail}>${e.head}`) || 0) + 1);
  const pairCount = new Map();
  for (const e of json.edges || []) {
    const pk = `${e.tail}>${e.head}`;
    const dup = pairCount.get(pk) || 0;
    pairCount.set(pk, dup + 1);
    const pts = parsePoints(e.pos).map(([x, y]) => [x, H - y]);
    const target = byGvid.get(e.head);
    const source = byGvid.get(e.tail);
    const m = /^e(\d+)_(\d+)$/.exec(e.id);
    const index = m ? Number(m[2]) : 0;
    const tn = nodes[target];
    // End the edge on the gate outline: extend horizontally from the port to the circle.
    const last = pts[pts.length - 1];
    let end = last;
    if (tn.shape === "gate" && tn.w === tn.h) {
      const r = tn.w / 2;
      const dy = Math.max(-r * 0.9, Math.min(r * 0.9, last[1] - tn.y));
      end = [tn.x - Math.sqrt(r * r - dy * dy), tn.y + dy];
    } else if (tn.shape === "const" || tn.shape === "input") {
      end = last;
    }
    let d = `M${f1(pts[0][0])},${f1(pts[0][1])}`;
    for (let i = 1; i + 2 < pts.length; i += 3) {
      d += `C${f1(pts[i][0])},${f1(pts[i][1])} ${f1(pts[i + 1][0])},${f1(pts[i + 1][1])} ${f1(pts[i + 2][0])},${f1(pts[i + 2][1])}`;
    }
    if (end !== last) d += `L${f1(end[0])},${f1(end[1])}`;
    // Labels sit nearer the tail, where converging edges are still far apart.
    // Parallel edges (x*x) stagger their labels along the edge so they do not stack.
    const frac = pairTotal.get(pk) > 1 ? Math.min(0.85, 0.2 + 0.45 * dup) : pts.length > 4 ? 0.3 : 0.36;
    const mid = splinePoint(pts, frac);
    edges[`e${target}_${index}`] = {
      source, target, index, d,
      lx: f1(mid.x), ly: f1(mid.y), tdx: mid.dx, tdy: mid.dy,
      end: [f1(end[0]), f1(end[1])],
    };
  }
  return { width: bb[2], height: H, nodes, edges };
}

function f1(v) {
  return Math.round(v * 10) / 10;
}
