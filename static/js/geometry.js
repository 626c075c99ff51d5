// Geometry helpers shared by the layouts (worker), the label placer and the canvas overview.
// An edge's shape is a cubic Bezier chain. Layouts store it flat, e.p = [x0, y0, c1x, c1y, c2x, c2y,
// x1, y1, ...] plus the point where it meets the target's outline (e.ex, e.ey): one array per edge
// crosses from the worker quickly. pairsOf(e) and edgeD(e) give the [[x, y], ...] form and the SVG
// path on demand (memoized: only edges that get drawn in SVG or labelled pay for them). Pure.

export function cubicAt(p0, p1, p2, p3, t) {
  const u = 1 - t;
  const a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
  return [a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]];
}

// Point and unit tangent at a fraction `f` of the way through the chain (by segment).
export function splinePoint(pts, f) {
  const nseg = Math.max(1, Math.floor((pts.length - 1) / 3));
  const x = Math.min(nseg - 1e-9, Math.max(0, f) * nseg);
  const k = Math.floor(x);
  const t = x - k;
  const p = pts.slice(3 * k, 3 * k + 4);
  if (p.length < 4) {
    const a = pts[0], b = pts[pts.length - 1];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    return { x: a[0] + (b[0] - a[0]) * f, y: a[1] + (b[1] - a[1]) * f, dx: (b[0] - a[0]) / len, dy: (b[1] - a[1]) / len };
  }
  const a = cubicAt(p[0], p[1], p[2], p[3], t);
  const b = cubicAt(p[0], p[1], p[2], p[3], Math.min(1, t + 0.02));
  const c = cubicAt(p[0], p[1], p[2], p[3], Math.max(0, t - 0.02));
  let dx = b[0] - c[0], dy = b[1] - c[1];
  const len = Math.hypot(dx, dy) || 1;
  dx /= len; dy /= len;
  return { x: a[0], y: a[1], dx, dy };
}

// A polyline approximation (n points per cubic), for hit tests and collision grids.
export function sample(pts, perSeg = 6) {
  const out = [pts[0]];
  for (let i = 0; i + 3 < pts.length; i += 3) {
    for (let s = 1; s <= perSeg; s++) out.push(cubicAt(pts[i], pts[i + 1], pts[i + 2], pts[i + 3], s / perSeg));
  }
  return out;
}

export function f1(v) {
  return Math.round(v * 10) / 10;
}

export function pathD(pts, end = null) {
  let d = `M${f1(pts[0][0])},${f1(pts[0][1])}`;
  for (let i = 1; i + 2 < pts.length; i += 3) {
    d += `C${f1(pts[i][0])},${f1(pts[i][1])} ${f1(pts[i + 1][0])},${f1(pts[i + 1][1])} ${f1(pts[i + 2][0])},${f1(pts[i + 2][1])}`;
  }
  if (end) d += `L${f1(end[0])},${f1(end[1])}`;
  return d;
}

// Where an edge arriving at `last` (a port on the node's left side) meets the node's outline:
// a round gate is entered on its circle, other shapes at the port itself.
export function endOnOutline(tn, last) {
  if (tn && tn.shape === "gate" && tn.w === tn.h) {
    const r = tn.w / 2;
    const dy = Math.max(-r * 0.9, Math.min(r * 0.9, last[1] - tn.y));
    return [tn.x - Math.sqrt(r * r - dy * dy), tn.y + dy];
  }
  return last;
}

// Rectangles: {x0, y0, x1, y1}.
export function overlaps(a, b, pad = 0) {
  return a.x0 < b.x1 + pad && b.x0 < a.x1 + pad && a.y0 < b.y1 + pad && b.y0 < a.y1 + pad;
}

// A uniform grid of rectangles for collision queries in O(1) per query on average.
export class RectGrid {
  constructor(cell = 48) {
    this.cell = cell;
    this.map = new Map();
  }
  _keys(r, fn) {
    const c = this.cell;
    const i0 = Math.floor(r.x0 / c), i1 = Math.floor(r.x1 / c), j0 = Math.floor(r.y0 / c), j1 = Math.floor(r.y1 / c);
    for (let i = i0; i <= i1; i++) for (let j = j0; j <= j1; j++) fn(`${i},${j}`);
  }
  add(r) {
    this._keys(r, (k) => {
      let a = this.map.get(k);
      if (!a) this.map.set(k, (a = []));
      a.push(r);
    });
  }
  // true when r overlaps any stored rectangle that `ignore(rect)` does not exclude
  hits(r, ignore = null) {
    let hit = false;
    this._keys(r, (k) => {
      if (hit) return;
      const a = this.map.get(k);
      if (!a) return;
      for (const o of a) {
        if ((!ignore || !ignore(o)) && overlaps(r, o)) {
          hit = true;
          return;
        }
      }
    });
    return hit;
  }
}

export function flatten(pts) {
  const out = new Array(pts.length * 2);
  for (let i = 0; i < pts.length; i++) {
    out[2 * i] = pts[i][0];
    out[2 * i + 1] = pts[i][1];
  }
  return out;
}

export function pairsOf(e) {
  if (e.pts) return e.pts;
  const p = e.p, out = [];
  for (let i = 0; i < p.length; i += 2) out.push([p[i], p[i + 1]]);
  e.pts = out;
  return out;
}

export function edgeD(e) {
  if (e.d) return e.d;
  const p = e.p, n = p.length;
  const moved = e.ex !== undefined && (e.ex !== p[n - 2] || e.ey !== p[n - 1]);
  e.d = pathD(pairsOf(e), moved ? [e.ex, e.ey] : null);
  return e.d;
}
