// Label placement with collision avoidance: every value, gradient, fork-sum, name and reason label
// gets a box that overlaps no node and no other label. Candidates, in order of preference: along
// the edge at several fractions, value above and gradient below (as a pair, at the same place),
// then further from the edge, then an abbreviated number (the full one stays in the edge's
// tooltip), then the nearest free spot with a leader line back to the edge. Crossing another
// edge's line is avoided when possible. Pure: text sizes come from a `measure` callback.
//
// requests: [{key, kind, text, alts?, edge?: {pts}, node?: {x, y, w, h}, size, pad?, pair?}]
//   kind "value" | "grad" place along request.edge (value on the upper side, grad on the lower);
//   "fork" | "reason" below request.node; "name" above it; "fixed" exactly at request.at.
// returns {placed: Map key -> {x, y, w, h, text, leader, abbreviated, hidden}, bounds}
import { pairsOf, RectGrid, sample, splinePoint } from "./geometry.js";

const FRACTIONS = [0.32, 0.44, 0.22, 0.56, 0.68, 0.14, 0.8];

export function placeLabels(layout, requests, measure, { obstacles = [], prev = null, edgesSoft = true } = {}) {
  const hard = new RectGrid(48);
  const soft = new RectGrid(48);
  const placed = new Map();
  let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
  const grow = (r) => {
    bx0 = Math.min(bx0, r.x0); by0 = Math.min(by0, r.y0); bx1 = Math.max(bx1, r.x1); by1 = Math.max(by1, r.y1);
  };
  for (const id of Object.keys(layout.nodes)) {
    const n = layout.nodes[id];
    const r = { x0: n.x - n.w / 2 - 2, y0: n.y - n.h / 2 - 2, x1: n.x + n.w / 2 + 2, y1: n.y + n.h / 2 + 2, node: id };
    hard.add(r);
    grow(r);
  }
  for (const o of obstacles) {
    hard.add(o);
    grow(o);
  }
  if (edgesSoft) {
    for (const [id, e] of Object.entries(layout.edges)) {
      const line = sample(pairsOf(e), 5);
      for (let i = 1; i < line.length; i++) {
        const a = line[i - 1], b = line[i];
        soft.add({ x0: Math.min(a[0], b[0]) - 1, y0: Math.min(a[1], b[1]) - 1, x1: Math.max(a[0], b[0]) + 1,
          y1: Math.max(a[1], b[1]) + 1, edge: id });
      }
    }
  }

  const boxAt = (cx, cy, w, h) => ({ x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2 });
  const free = (r, level, edgeId) => !hard.hits(r) && (level > 0 || !soft.hits(r, (o) => o.edge === edgeId));
  const take = (req, text, cx, cy, w, h, extra = {}) => {
    const r = boxAt(cx, cy, w, h);
    r.label = req.key;
    hard.add(r);
    grow(r);
    placed.set(req.key, { x: cx, y: cy, w, h, text, leader: null, abbreviated: text !== req.text, hidden: false, ...extra });
    if (extra.leader) grow({ x0: Math.min(...extra.leader.filter((_, i) => i % 2 === 0)), x1: Math.max(...extra.leader.filter((_, i) => i % 2 === 0)),
      y0: Math.min(...extra.leader.filter((_, i) => i % 2 === 1)), y1: Math.max(...extra.leader.filter((_, i) => i % 2 === 1)) });
    return r;
  };
  const dims = (req, text) => {
    const m = measure(text, req.kind, req.size);
    const pad = req.pad || [0, 0];
    return [m.w + 2 * pad[0] + 2, m.h + 2 * pad[1] + 1];
  };

  // Candidate centres for a label on an edge: side +1 above (value), -1 below (gradient).
  const edgeCands = (pts, side, w, h) => {
    const out = [];
    for (let ring = 0; ring < 3; ring++) {
      for (const f of FRACTIONS) {
        const p = splinePoint(pts, f);
        let nx = p.dy, ny = -p.dx; // the normal on the upper side of a left-to-right edge
        if (ny > 0 || (ny === 0 && nx > 0)) { nx = -nx; ny = -ny; }
        const half = Math.abs(nx) * w / 2 + Math.abs(ny) * h / 2;
        const off = 2.5 + half + ring * (h + 3);
        out.push({ x: p.x + side * nx * off, y: p.y + side * ny * off, f, ring });
      }
    }
    return out;
  };
  const nodeCands = (n, kind, w, h, stack) => {
    const below = n.y + n.h / 2 + 3 + h / 2 + stack;
    const above = n.y - n.h / 2 - 3 - h / 2;
    if (kind === "name") {
      return [[n.x, above], [n.x - n.w / 2 - w / 2 + 4, above], [n.x + n.w / 2 + w / 2 - 4, above],
        [n.x, above - h - 2], [n.x - n.w / 2 - w / 2 - 4, n.y - h / 2 - 4]].map(([x, y]) => ({ x, y }));
    }
    const out = [];
    for (let ring = 0; ring < 3; ring++) {
      const y = below + ring * (h + 3);
      out.push({ x: n.x, y }, { x: n.x + w / 2 - n.w / 2, y }, { x: n.x - w / 2 + n.w / 2, y },
        { x: n.x + w / 2 + 4, y }, { x: n.x - w / 2 - 4, y });
    }
    return out;
  };
  // Nearest free spot around (x, y), with a leader line.
  const leaderSpot = (req, text, w, h, ax, ay) => {
    for (let rad = 10; rad <= 160; rad += 10) {
      const steps = Math.max(8, Math.round(rad / 5));
      for (let s = 0; s < steps; s++) {
        const a = (s / steps) * 2 * Math.PI + Math.PI / 2;
        const cx = ax + Math.cos(a) * rad, cy = ay - Math.sin(a) * rad;
        const r = boxAt(cx, cy, w, h);
        if (!hard.hits(r)) {
          const lx = Math.max(r.x0, Math.min(ax, r.x1)), ly = Math.max(r.y0, Math.min(ay, r.y1));
          take(req, text, cx, cy, w, h, { leader: [ax, ay, lx, ly] });
          return true;
        }
      }
    }
    return false;
  };

  const texts = (req) => [req.text, ...(req.alts || [])].filter((t, i, a) => t && a.indexOf(t) === i);
  const tryList = (req, text, w, h, cands, edgeId) => {
    const before = prev && prev.get(req.key);
    if (before && before.text === text && !before.leader && free(boxAt(before.x, before.y, w, h), 0, edgeId)) {
      take(req, text, before.x, before.y, w, h);
      return true;
    }
    for (let level = 0; level < 2; level++) {
      for (const c of cands) {
        if (free(boxAt(c.x, c.y, w, h), level, edgeId)) {
          take(req, text, c.x, c.y, w, h);
          return true;
        }
      }
    }
    return false;
  };

  const byKey = new Map(requests.map((r) => [r.key, r]));
  const done = new Set();
  for (const req of requests) {
    if (done.has(req.key)) continue;
    done.add(req.key);
    if (req.kind === "fixed") {
      const [w, h] = dims(req, req.text);
      take(req, req.text, req.at[0], req.at[1], w, h);
      continue;
    }
    // a value label and its edge's gradient label: try to keep them together first
    const mate = req.pair ? byKey.get(req.pair) : null;
    if (mate && !done.has(mate.key) && req.edge) {
      done.add(mate.key);
      const [w1, h1] = dims(req, req.text);
      const [w2, h2] = dims(mate, mate.text);
      const c1 = edgeCands(req.edge.pts, req.kind === "grad" ? -1 : 1, w1, h1);
      const c2 = edgeCands(mate.edge.pts, mate.kind === "grad" ? -1 : 1, w2, h2);
      let ok = false;
      const pb = prev && prev.get(req.key), mb = prev && prev.get(mate.key);
      const order = [...c1.keys()];
      if (pb && mb) {
        const k = c1.findIndex((c) => Math.abs(c.x - pb.x) < 0.01 && Math.abs(c.y - pb.y) < 0.01);
        if (k >= 0) order.unshift(k);
      }
      for (let level = 0; level < 2 && !ok; level++) {
        for (const k of order) {
          if (c1[k].ring > 0) continue; // pairs only right at the edge; further out, each on its own
          const a = boxAt(c1[k].x, c1[k].y, w1, h1), b = boxAt(c2[k].x, c2[k].y, w2, h2);
          if (free(a, level, req.edge.id) && free(b, level, mate.edge.id)) {
            take(req, req.text, c1[k].x, c1[k].y, w1, h1);
            take(mate, mate.text, c2[k].x, c2[k].y, w2, h2);
            ok = true;
            break;
          }
        }
      }
      if (!ok) {
        placeOne(req);
        placeOne(mate);
      }
      continue;
    }
    placeOne(req);
  }

  function placeOne(req) {
    const all = texts(req);
    for (const text of all) {
      const [w, h] = dims(req, text);
      let cands;
      if (req.edge) cands = edgeCands(req.edge.pts, req.kind === "grad" ? -1 : 1, w, h);
      else if (req.node) cands = nodeCands(req.node, req.kind, w, h, req.stack || 0);
      else cands = [];
      if (tryList(req, text, w, h, cands, req.edge ? req.edge.id : null)) return;
    }
    // a leader line to the nearest free spot, with the shortest text
    const text = all[all.length - 1];
    const [w, h] = dims(req, text);
    let ax, ay;
    if (req.edge) {
      const p = splinePoint(req.edge.pts, 0.4);
      ax = p.x; ay = p.y;
    } else {
      ax = req.node.x;
      ay = req.kind === "name" ? req.node.y - req.node.h / 2 : req.node.y + req.node.h / 2;
    }
    if (leaderSpot(req, text, w, h, ax, ay)) return;
    placed.set(req.key, { x: ax, y: ay, w, h, text, leader: null, abbreviated: true, hidden: true });
  }

  if (!Number.isFinite(bx0)) bx0 = by0 = bx1 = by1 = 0;
  return { placed, bounds: { x0: bx0, y0: by0, x1: bx1, y1: by1 } };
}
