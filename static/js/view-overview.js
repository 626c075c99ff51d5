// The canvas layer under the circuit's SVG and the minimap. For big graphs the canvas draws every
// node and edge (the SVG only holds the nodes in view once they are big enough to read); for all
// graphs, when zoomed out below reading size, it writes the names of statements at a constant,
// readable size where they do not collide (semantic zoom). View only.
import { isGradShown, isValueShown } from "./schedule.js";

const COLORS = {
  edge: "#9aa3b2", node: "#44506a", fill: "#ffffff", input: "#2f5bea", inputFill: "#eef3ff",
  vfill: "#e3f3f6", gfill: "#fde8df", active: "#0e7490", activeBwd: "#c2410c", selected: "#b45309",
  name: "#1c2430", halo: "rgba(255,255,255,0.9)",
};

export function createOverview(canvas, minimap, { onPan } = {}) {
  const ctx = canvas.getContext("2d");
  let layout = null, display = null, doc = null;
  let drawShapes = false;
  let nameList = [];
  let mmCache = null; // {bitmap canvas, scale, ox, oy}
  let last = null;
  let frame = null;

  // canvas sizes from a ResizeObserver (reading layout boxes while the SVG changes forces a layout)
  const sizes = new Map();
  if (typeof ResizeObserver !== "undefined") {
    const ro = new ResizeObserver((entries) => {
      for (const e of entries) sizes.set(e.target, { width: e.contentRect.width, height: e.contentRect.height });
    });
    ro.observe(canvas);
    if (minimap) ro.observe(minimap);
  }
  function box(c) {
    const s = sizes.get(c);
    return s && s.width ? s : c.getBoundingClientRect();
  }

  function size(c) {
    const r = box(c);
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    return { w: r.width, h: r.height, dpr };
  }

  function setGraph(g) {
    layout = g.layout;
    display = g.display;
    doc = g.doc;
    drawShapes = !!g.drawShapes;
    mmCache = null;
    // names worth showing in an overview: the output, named gates and folded groups, in order
    nameList = [];
    for (const id of display.nodes) {
      const n = doc.nodes[id];
      const grp = display.groupOf.get(id);
      const text = grp ? grp.title : n.op !== "input" && n.op !== "const" && n.label ? n.label : n.op === "input" ? n.label : null;
      if (!text || !layout.nodes[id]) continue;
      nameList.push({ id, text, prio: id === display.rep[doc.output_id] ? 0 : grp ? 1 : n.op === "input" ? 3 : 2 });
    }
    nameList.sort((a, b) => a.prio - b.prio || a.id - b.id);
  }

  function clear() {
    layout = null;
    const { w, h, dpr } = size(canvas);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (minimap) minimap.hidden = true;
  }

  // Draw at the zoom transform t = {x, y, k}; `st` = {sched, pos, active, selected, names}.
  function draw(t, st) {
    last = { t, st };
    if (frame !== null) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      paint(last.t, last.st);
    });
  }

  function paint(t, st) {
    const { w, h, dpr } = size(canvas);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!layout) return;
    const vx0 = -t.x / t.k, vy0 = -t.y / t.k, vx1 = (w - t.x) / t.k, vy1 = (h - t.y) / t.k;
    if (drawShapes) paintShapes(t, st, vx0, vy0, vx1, vy1);
    if (st.names) paintNames(t, w, h, vx0, vy0, vx1, vy1);
    if (minimap && !minimap.hidden) paintMinimap(t, w, h);
  }

  function paintShapes(t, st, vx0, vy0, vx1, vy1) {
    ctx.save();
    ctx.translate(t.x, t.y);
    ctx.scale(t.k, t.k);
    const curves = t.k > 0.12;
    ctx.lineWidth = Math.max(0.6, 1.2 / Math.sqrt(t.k)) ;
    ctx.strokeStyle = COLORS.edge;
    ctx.globalAlpha = t.k > 0.2 ? 0.9 : 0.45;
    ctx.beginPath();
    for (const id in layout.edges) {
      const e = layout.edges[id];
      const p = e.p;
      const ax = p[0], ay = p[1], bx = e.ex, by = e.ey;
      if ((ax > bx ? ax : bx) < vx0 || (ax < bx ? ax : bx) > vx1 || (ay > by ? ay : by) < vy0 || (ay < by ? ay : by) > vy1) continue;
      ctx.moveTo(ax, ay);
      // zoomed out: straight lines through the curve's anchor points (a channel edge keeps its route)
      if (curves) for (let i = 2; i + 5 < p.length; i += 6) ctx.bezierCurveTo(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5]);
      else for (let i = 6; i + 1 < p.length; i += 6) ctx.lineTo(p[i], p[i + 1]);
      ctx.lineTo(bx, by);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    const sched = st.sched;
    const small = t.k < 0.08;
    for (const id of display.nodes) {
      const n = layout.nodes[id];
      if (!n || n.x + n.w / 2 < vx0 || n.x - n.w / 2 > vx1 || n.y + n.h / 2 < vy0 || n.y - n.h / 2 > vy1) continue;
      const node = doc.nodes[id];
      let fill = node.op === "input" ? COLORS.inputFill : COLORS.fill;
      if (sched && node.op !== "input") {
        if (isGradShown(sched, id, st.pos)) fill = COLORS.gfill;
        else if (isValueShown(sched, id, st.pos)) fill = COLORS.vfill;
      }
      ctx.fillStyle = fill;
      ctx.strokeStyle = node.op === "input" ? COLORS.input : COLORS.node;
      ctx.lineWidth = small ? 1 / t.k : 1.4;
      ctx.beginPath();
      if (small) ctx.rect(n.x - Math.max(n.w, 3 / t.k) / 2, n.y - Math.max(n.h, 3 / t.k) / 2, Math.max(n.w, 3 / t.k), Math.max(n.h, 3 / t.k));
      else if (n.shape === "gate" && n.w === n.h) ctx.arc(n.x, n.y, n.w / 2, 0, 2 * Math.PI);
      else roundRect(ctx, n.x - n.w / 2, n.y - n.h / 2, n.w, n.h, Math.min(8, n.h / 2));
      ctx.fill();
      ctx.stroke();
    }
    for (const [id, color] of [[st.selected, COLORS.selected], [st.active, st.activeDir === "bwd" ? COLORS.activeBwd : COLORS.active]]) {
      const n = id !== null && id !== undefined ? layout.nodes[id] : null;
      if (!n) continue;
      ctx.strokeStyle = color;
      ctx.lineWidth = Math.max(3, 3 / t.k);
      ctx.beginPath();
      const r = Math.max(n.w, n.h) / 2 + Math.max(4, 6 / t.k);
      ctx.arc(n.x, n.y, r, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.restore();
  }

  // Names at a constant 12 px, placed greedily in screen space without collisions.
  function paintNames(t, w, h, vx0, vy0, vx1, vy1) {
    ctx.save();
    ctx.font = "italic 700 12px ui-monospace, 'DejaVu Sans Mono', monospace";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.lineJoin = "round";
    const taken = [];
    const hit = (r) => taken.some((o) => r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1);
    let count = 0;
    for (const it of nameList) {
      const n = layout.nodes[it.id];
      if (n.x < vx0 || n.x > vx1 || n.y < vy0 || n.y > vy1) continue;
      const sx = n.x * t.k + t.x, sy = (n.y - n.h / 2) * t.k + t.y - 3;
      const tw = it.text.length * 7.3; // a 12 px monospace font: no measuring 20,000 names per frame
      const r = { x0: sx - tw / 2 - 2, y0: sy - 14, x1: sx + tw / 2 + 2, y1: sy + 1 };
      if (r.x0 < 0 || r.x1 > w || r.y0 < 0 || r.y1 > h || hit(r)) continue;
      taken.push(r);
      ctx.strokeStyle = COLORS.halo;
      ctx.lineWidth = 4;
      ctx.strokeText(it.text, sx, sy);
      ctx.fillStyle = COLORS.name;
      ctx.fillText(it.text, sx, sy);
      if (++count > 400) break;
    }
    ctx.restore();
    canvas.dataset.names = String(count);
  }

  // ---- minimap ---------------------------------------------------------------------------------
  function mmGeometry() {
    const r = box(minimap);
    const pad = 6;
    const s = Math.min((r.width - 2 * pad) / layout.width, (r.height - 2 * pad) / layout.height);
    return { s, ox: (r.width - layout.width * s) / 2, oy: (r.height - layout.height * s) / 2, w: r.width, h: r.height };
  }

  function paintMinimap(t, w, h) {
    const mctx = minimap.getContext("2d");
    const { dpr } = size(minimap);
    const g = mmGeometry();
    if (!mmCache || mmCache.w !== minimap.width || mmCache.h !== minimap.height) {
      const off = document.createElement("canvas");
      off.width = minimap.width;
      off.height = minimap.height;
      const o = off.getContext("2d");
      o.setTransform(dpr, 0, 0, dpr, 0, 0);
      o.fillStyle = "#ffffff";
      o.fillRect(0, 0, g.w, g.h);
      o.translate(g.ox, g.oy);
      o.scale(g.s, g.s);
      o.strokeStyle = "rgba(120,130,150,0.35)";
      o.lineWidth = 1 / g.s;
      o.beginPath();
      for (const id in layout.edges) {
        const e = layout.edges[id];
        o.moveTo(e.p[0], e.p[1]);
        for (let i = 6; i + 1 < e.p.length; i += 6) o.lineTo(e.p[i], e.p[i + 1]);
        o.lineTo(e.ex, e.ey);
      }
      o.stroke();
      o.fillStyle = "#44506a";
      const d = Math.max(1.2 / g.s, 1);
      for (const n of Object.values(layout.nodes)) o.fillRect(n.x - d / 2, n.y - d / 2, d, d);
      mmCache = { canvas: off, w: minimap.width, h: minimap.height };
    }
    mctx.setTransform(1, 0, 0, 1, 0, 0);
    mctx.clearRect(0, 0, minimap.width, minimap.height);
    mctx.drawImage(mmCache.canvas, 0, 0);
    mctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const x0 = (-t.x / t.k) * g.s + g.ox, y0 = (-t.y / t.k) * g.s + g.oy;
    mctx.strokeStyle = "#2f5bea";
    mctx.lineWidth = 2;
    mctx.fillStyle = "rgba(47,91,234,0.08)";
    mctx.fillRect(x0, y0, (w / t.k) * g.s, (h / t.k) * g.s);
    mctx.strokeRect(x0, y0, (w / t.k) * g.s, (h / t.k) * g.s);
  }

  if (minimap) {
    let dragging = false;
    const pan = (ev) => {
      if (!layout) return;
      const r = minimap.getBoundingClientRect();
      const g = mmGeometry();
      const x = (ev.clientX - r.left - g.ox) / g.s, y = (ev.clientY - r.top - g.oy) / g.s;
      if (onPan) onPan(x, y);
    };
    minimap.addEventListener("pointerdown", (ev) => {
      dragging = true;
      minimap.setPointerCapture(ev.pointerId);
      pan(ev);
    });
    minimap.addEventListener("pointermove", (ev) => dragging && pan(ev));
    minimap.addEventListener("pointerup", () => { dragging = false; });
  }

  return {
    setGraph, draw, clear,
    setMinimap(on) {
      if (minimap) minimap.hidden = !on;
    },
    get hasGraph() { return layout !== null; },
  };
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}
