// A layered left-to-right layout whose cost stays near-linear in the graph's size, for programs
// too big for Graphviz (a 5,000-gate dense DAG took Graphviz 93 s). Layers are the longest path
// from the inputs (the engine's topological order gives it in one pass); the order inside a layer
// comes from three barycenter sweeps (sorts, no crossing minimization beyond that); y positions
// pull each node towards its operands' mean and then push overlapping neighbours apart.
// Edges are single cubic curves into per-operand ports. O(E + V log V). Pure, no DOM.
//
// wrapBands() folds a very wide layout (any engine) into bands stacked top to bottom, like lines
// of text, so a long program's overview is not a thin line.
import { endOnOutline, f1 } from "./geometry.js";
import { nodeSize } from "./layout.js";

export function fastLayout(structure, opts = {}) {
  const present = structure.present;
  const gap = opts.ranksep ?? (present ? 120 : 96);   // between layers (room for edge labels)
  const sep = opts.nodesep ?? (present ? 46 : 38);    // between nodes in a layer
  const nodes = structure.nodes;
  const N = nodes.length;
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const size = nodes.map(nodeSize);
  const preds = nodes.map(() => []);
  const succs = nodes.map(() => []);
  for (const e of structure.edges) {
    const s = index.get(e.source), t = index.get(e.target);
    if (s === undefined || t === undefined) continue;
    preds[t].push(s);
    succs[s].push(t);
  }

  // ---- layers: longest path (nodes arrive in topological order) --------------------------------
  const rank = new Int32Array(N);
  let maxRank = 0;
  for (let i = 0; i < N; i++) {
    let r = 0;
    for (const p of preds[i]) if (rank[p] + 1 > r) r = rank[p] + 1;
    rank[i] = r;
    if (r > maxRank) maxRank = r;
  }
  // constants sit just before their first consumer instead of in the first layer
  for (let i = 0; i < N; i++) {
    if (nodes[i].op === "const" && !preds[i].length && succs[i].length) {
      let m = Infinity;
      for (const s of succs[i]) m = Math.min(m, rank[s]);
      rank[i] = Math.max(0, m - 1);
    }
  }
  const out = index.get(structure.outputId);
  if (out !== undefined) rank[out] = maxRank;
  const layers = Array.from({ length: maxRank + 1 }, () => []);
  for (let i = 0; i < N; i++) layers[rank[i]].push(i);

  // ---- order inside layers: barycenter sweeps ------------------------------------------------
  const slot = new Float64Array(N);
  const setSlots = (layer) => {
    const c = (layer.length - 1) / 2;
    layer.forEach((i, k) => { slot[i] = k - c; });
  };
  layers.forEach(setSlots);
  const key = new Float64Array(N);
  const sweep = (from, to, step, nbrs) => {
    for (let r = from; r !== to; r += step) {
      const layer = layers[r];
      for (const i of layer) {
        const ns = nbrs[i];
        if (!ns.length) {
          key[i] = slot[i];
          continue;
        }
        let s = 0;
        for (const j of ns) s += slot[j];
        key[i] = s / ns.length;
      }
      layer.sort((a, b) => key[a] - key[b] || a - b);
      setSlots(layer);
    }
  };
  for (let it = 0; it < 2; it++) {
    sweep(1, maxRank + 1, 1, preds);
    sweep(maxRank - 1, -1, -1, succs);
  }
  sweep(1, maxRank + 1, 1, preds);

  // ---- coordinates -----------------------------------------------------------------------------
  const colW = layers.map((layer) => layer.reduce((m, i) => Math.max(m, size[i].w), 0));
  const colX = new Float64Array(maxRank + 1);
  let x = 0;
  for (let r = 0; r <= maxRank; r++) {
    colX[r] = x + colW[r] / 2;
    x += colW[r] + gap;
  }
  const Y = new Float64Array(N);
  const place = (layer, desired) => {
    if (!layer.length) return;
    let prev = null;
    const ys = new Float64Array(layer.length);
    layer.forEach((i, k) => {
      let y = desired[k];
      if (prev !== null) y = Math.max(y, ys[k - 1] + (size[prev].h + size[i].h) / 2 + sep);
      ys[k] = y;
      prev = i;
    });
    let shift = 0;
    layer.forEach((i, k) => { shift += ys[k] - desired[k]; });
    shift /= layer.length;
    layer.forEach((i, k) => { Y[i] = ys[k] - shift; });
  };
  const mean = (ns, fallback) => {
    if (!ns.length) return fallback;
    let s = 0;
    for (const j of ns) s += Y[j];
    return s / ns.length;
  };
  const pitch = 40 + sep;
  for (let r = 0; r <= maxRank; r++) {
    const layer = layers[r];
    place(layer, layer.map((i) => mean(preds[i], slot[i] * pitch)));
  }
  // nodes without operands (inputs, constants) move towards their consumers
  for (let r = maxRank; r >= 0; r--) {
    const layer = layers[r];
    if (!layer.some((i) => !preds[i].length)) continue;
    place(layer, layer.map((i) => (preds[i].length ? Y[i] : mean(succs[i], Y[i]))));
  }
  let minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < N; i++) {
    minY = Math.min(minY, Y[i] - size[i].h / 2);
    maxY = Math.max(maxY, Y[i] + size[i].h / 2);
  }
  if (!N) minY = maxY = 0;
  const outNodes = {};
  for (let i = 0; i < N; i++) {
    outNodes[nodes[i].id] = { x: f1(colX[rank[i]]), y: f1(Y[i] - minY + 20), w: size[i].w, h: size[i].h, shape: size[i].shape };
  }
  const layout = { width: Math.max(0, x - gap), height: maxY - minY + 40, nodes: outNodes, edges: {}, engine: "fast",
    layers: maxRank + 1 };
  for (const e of structure.edges) {
    const s = outNodes[e.source], t = outNodes[e.target];
    if (!s || !t) continue;
    layout.edges[e.id] = edgeGeometry(e, s, t, nodes[index.get(e.target)].ports || 1);
  }
  return layout;
}

// One cubic from the source's right side into the target's port (ports spread over its height).
export function edgeGeometry(e, s, t, ports) {
  const spread = ports > 1 ? Math.min(t.h * 0.7, 14 * (ports - 1)) : 0;
  const py = t.y + (ports > 1 ? (e.port / (ports - 1) - 0.5) * spread : 0);
  const sx = s.x + s.w / 2, sy = s.y;
  const tx = t.x - t.w / 2;
  const forward = tx > sx + 10;
  const dx = forward ? Math.max(24, (tx - sx) * 0.45) : 90;
  const bend = forward ? 0 : (py - sy) * 0.25;
  const end = endOnOutline(t, [tx, py]);
  return { source: e.source, target: e.target, port: e.port,
    p: [f1(sx), f1(sy), f1(sx + dx), f1(sy + bend), f1(tx - dx), f1(py - bend), f1(tx), f1(py)],
    ex: f1(end[0]), ey: f1(end[1]) };
}

// An edge from one band to a later one: out of the source to the right, down into the gap below
// the source's band, along that gap (a channel the crossing edges share), and up into the target
// from the left. Three cubic segments.
function channelEdge(e, s, t, ports, gy) {
  const g = edgeGeometry(e, s, t, ports);
  const [sx, sy] = [g.p[0], g.p[1]];
  const [tx, ty] = [g.p[6], g.p[7]];
  const a = sx + 40, b = tx - 40;
  g.p = [sx, sy, a, sy, a, gy, a - 40, gy, (a + b) / 2, gy, (a + b) / 2, gy, b + 40, gy, b, gy, b, ty, tx, ty].map(f1);
  return g;
}

// Fold a wide layout into bands (rows) when it is far wider than `aspect`. Nodes keep their order
// inside a band; an edge inside a band moves with it, an edge between bands is redrawn as one
// curve. Works in place; returns the layout (unchanged when it is not much wider than the target).
export function wrapBands(layout, structure, aspect = 1.6) {
  const ids = Object.keys(layout.nodes);
  const W = layout.width, H = layout.height;
  if (ids.length < 40 || !(W > aspect * H * 2.5)) return layout;
  const b = Math.max(2, Math.min(64, Math.round(Math.sqrt(W / (aspect * H)))));
  const bandW = W / b;
  const bandOf = (x) => Math.min(b - 1, Math.max(0, Math.floor(x / bandW)));
  const bandGap = 60;
  const left = new Array(b).fill(Infinity);
  const right = new Array(b).fill(-Infinity);
  const band = new Map();
  for (const id of ids) {
    const n = layout.nodes[id];
    const k = bandOf(n.x);
    band.set(id, k);
    left[k] = Math.min(left[k], n.x - n.w / 2);
    right[k] = Math.max(right[k], n.x + n.w / 2);
  }
  const dx = left.map((l) => (Number.isFinite(l) ? 20 - l : 0));
  const dy = Array.from({ length: b }, (_, k) => k * (H + bandGap));
  for (const id of ids) {
    const n = layout.nodes[id];
    const k = band.get(id);
    n.x = f1(n.x + dx[k]);
    n.y = f1(n.y + dy[k]);
  }
  const ports = new Map(structure.nodes.map((n) => [String(n.id), n.ports || 1]));
  for (const [id, e] of Object.entries(layout.edges)) {
    const ks = band.get(String(e.source)), kt = band.get(String(e.target));
    if (ks === kt) {
      const p = e.p;
      for (let i = 0; i < p.length; i += 2) {
        p[i] = f1(p[i] + dx[ks]);
        p[i + 1] = f1(p[i + 1] + dy[ks]);
      }
      e.ex = f1(e.ex + dx[ks]);
      e.ey = f1(e.ey + dy[ks]);
    } else {
      layout.edges[id] = channelEdge(e, layout.nodes[e.source], layout.nodes[e.target], ports.get(String(e.target)) || 1,
        dy[ks] + H + bandGap / 2 + ((Number(e.target) * 7) % 21) - 10);
    }
  }
  let width = 0;
  for (let k = 0; k < b; k++) if (Number.isFinite(right[k])) width = Math.max(width, right[k] + dx[k] + 20);
  layout.width = width;
  layout.height = b * H + (b - 1) * bandGap;
  layout.bands = b;
  return layout;
}
