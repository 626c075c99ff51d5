// SVG drawing of the circuit with d3: nodes and edges from the layout, numbers from the
// evaluation, labels placed without collisions (labels.js), reveal/highlight classes from the
// animation position, the camera (fit, zoom, follow) and keyboard navigation along edges.
// Big graphs: a canvas (view-overview.js) draws every node and edge, and the SVG holds only the
// nodes in view once they are big enough to read (a window, rebuilt as the view moves).
// View only: it never calls the API and never orders nodes itself.
import { debouncer } from "./busy.js";
import { edgeD, pairsOf } from "./geometry.js";
import { fmt, fmtFull, isHidden, raw } from "./format.js";
import { placeLabels } from "./labels.js";
import { cardTitle, SIZES } from "./layout.js";
import { forkSum, isGradShown, isValueShown, nodeName } from "./schedule.js";
import { reasonText } from "./engine-text.js";
import { t as tr } from "./strings.js";
import { adjointNodesOf } from "./groups.js";
import { fmtShape, fmtT, isTensorValue, rawT, size, stats } from "./tensor.js";
import { bindTooltip, buildCard, paintCard } from "./view-heatmap.js";
import { createOverview } from "./view-overview.js";

const d3 = globalThis.d3;
const SVGNS = "http://www.w3.org/2000/svg";
export const LOD_SCALE = 0.55;     // below this zoom, labels are too small to read: hide them
export const BIG_NODES = 700;      // above this many drawn nodes, the canvas draws and the SVG windows
const WINDOW_MAX = 900;            // most nodes the SVG window holds
const FONT = {                     // label sizes in layout units (presenter mode: x PRESENT_SCALE)
  value: 12.5, grad: 12.5, fork: 12, name: 14, reason: 11.5,
};
const PRESENT_SCALE = 1.5;
const GRAD_PAD = [3.5, 1.5];       // the box around a gradient label

function symbolSize(sym) {
  const n = [...sym].length;
  return n <= 1 ? 20 : n === 2 ? 15 : n === 3 ? 13 : 11;
}

// Edge label text: a number, or for a tensor its shape going forward and the gradient's norm back.
function valueLabel(v, digits = 4) {
  if (isTensorValue(v)) return fmtShape(Array.isArray(v) ? shapeOfList(v) : v.shape);
  return fmt(v, digits);
}
function gradLabel(g, digits = 4) {
  if (isTensorValue(g)) {
    const s = stats(g);
    return Number.isFinite(s.norm) ? `‖g‖ ${fmt(s.norm, Math.min(3, digits))}` : fmtShape(g.shape);
  }
  return fmt(g, digits);
}
function shorter(fn, v) {
  return [fn(v, 3), fn(v, 2)];
}
function shapeOfList(v) {
  return Array.isArray(v[0]) ? [v.length, v[0].length] : [v.length];
}
// a non-finite number (NaN, ±inf), not a number quiz mode hides
function nonFinite(v) {
  return typeof v === "number" && !Number.isFinite(v);
}
function dataOf(v) {
  // full numbers for small tensors only (a data attribute is not the place for 4,096 numbers)
  if (isTensorValue(v)) return Array.isArray(v) && size(shapeOfList(v)) <= 256 ? rawT(v) : "";
  return raw(v);
}

function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export function createCircuitView(svgNode, opts = {}) {
  const { onSelect, onZoom, onFold, fxNode = null, tipNode = null, canvasNode = null, minimapNode = null } = opts;
  const svg = d3.select(svgNode);
  svg.selectAll("*").remove();
  const defs = svg.append("defs");
  for (const [id, cls] of [["arrow", "arrow"], ["arrow-fwd", "arrow fwd"], ["arrow-bwd", "arrow bwd"]]) {
    defs.append("marker").attr("id", id).attr("class", cls).attr("viewBox", "0 0 10 10")
      .attr("refX", 9).attr("refY", 5).attr("markerWidth", 11).attr("markerHeight", 11)
      .attr("markerUnits", "userSpaceOnUse")
      .attr("orient", "auto-start-reverse")
      .append("path").attr("d", "M0,0L10,5L0,10z");
  }
  const bg = svg.append("rect").attr("class", "circuit-bg").attr("width", "100%").attr("height", "100%");
  const viewport = svg.append("g").attr("class", "viewport");
  const gEdges = viewport.append("g").attr("class", "edges");
  const gNodes = viewport.append("g").attr("class", "nodes");
  // Moving things (flows, dots) live in a separate overlay SVG on its own compositing layer, so
  // an animation frame repaints only the overlay, not the whole circuit.
  const fx = fxNode ? d3.select(fxNode) : null;
  const fxViewport = fx ? fx.append("g").attr("class", "viewport") : viewport;
  const gFlows = fxViewport.append("g").attr("class", "flows");
  const overview = canvasNode ? createOverview(canvasNode, minimapNode, { onPan: (x, y) => centerAt(x, y, null, false) }) : null;

  let doc = null, layout = null, sched = null, ops = null, display = null;
  let present = false;
  let adjoint = new Set(), userGates = new Set(); // grad()'s nodes; the names of the program's own gates
  let big = false;
  let pos = 0;
  let edgeEls = new Map(); // edge id -> {g, line, value, grad, pill, leader}
  let nodeEls = new Map(); // display node id -> {g, fork, reason, card, name}
  let windowIds = null;    // big graphs: the display node ids the SVG holds (null = all)
  let windowRect = null;
  let active = { node: null, edges: [], nodes: [] };
  let selected = null;
  let transform = d3.zoomIdentity;
  let reducedMotion = false;
  let stepMs = 700;
  let placement = null;    // labels.js result for what the SVG holds
  let contentBox = null;   // layout + label bounds, for fit()
  let fitCap = 2.2;
  let focusId = null;      // keyboard focus (display node id)
  let lastMove = null;     // {from, dir, options, index} for Up/Down among alternatives
  const windowLater = debouncer("circuit-window");
  const measurer = createMeasurer(svgNode);

  const zoom = d3.zoom().scaleExtent([0.01, 8]).on("zoom", (ev) => {
    transform = ev.transform;
    viewport.attr("transform", transform);
    if (fx) fxViewport.attr("transform", transform);
    svg.classed("lod-low", transform.k < LOD_SCALE);
    svgNode.dataset.zoom = transform.k.toFixed(4);
    paintOverview();
    if (big) windowLater.run(updateWindow, 120);
    if (onZoom) onZoom({ x: transform.x, y: transform.y, k: transform.k }, ev.sourceEvent != null);
  });
  // d3's default extent reads the SVG's width, which forces a layout of the circuit on every
  // transform: give it the observed size instead
  zoom.extent(() => {
    const r = svgSize();
    return [[0, 0], [r.width, r.height]];
  });
  svg.call(zoom).on("dblclick.zoom", null);
  bindTooltip(svgNode, tipNode, {
    nodeOf: (id) => (doc ? doc.nodes[id] : null),
    nameOf: (id) => nodeName(doc, id),
    gradShown: (id) => (sched ? isGradShown(sched, id, pos) : true),
    outputName: () => (doc ? doc.output : "f"),
  });
  bg.on("click", () => onSelect && onSelect(null));

  // The SVG's size, kept by a ResizeObserver: reading getBoundingClientRect after a DOM change forces
  // a layout of the whole circuit (30-40 ms for 200 nodes with their labels), several per step.
  let sizeCache = null;
  function svgSize() {
    if (!sizeCache || !sizeCache.width) {
      const r = svgNode.getBoundingClientRect();
      sizeCache = { width: r.width, height: r.height };
    }
    return sizeCache;
  }
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver((entries) => {
      const c = entries[entries.length - 1].contentRect;
      sizeCache = { width: c.width, height: c.height };
    }).observe(svgNode);
  }

  // ---- camera -----------------------------------------------------------------------------------
  function bounds() {
    if (contentBox && !big) return contentBox;
    const out = layout.nodes[display.rep[doc.output_id]];
    const right = out ? Math.max(layout.width, out.x + out.w / 2 + SIZES.stub + 30) : layout.width;
    return { x0: -30, y0: -34, x1: right + 10, y1: layout.height + 34 };
  }

  function fitTransform() {
    const r = svgSize();
    const b = bounds();
    // room for what floats over the circuit: the status line and zoom buttons above, the legend below
    const m = { top: 40, bottom: 38, left: 10, right: 10 };
    const cw = b.x1 - b.x0, ch = b.y1 - b.y0;
    const aw = Math.max(20, r.width - m.left - m.right), ah = Math.max(20, r.height - m.top - m.bottom);
    const k = Math.max(0.005, Math.min(aw / cw, ah / ch, fitCap));
    const x = m.left + (aw - cw * k) / 2 - b.x0 * k;
    const y = m.top + (ah - ch * k) / 2 - b.y0 * k;
    return d3.zoomIdentity.translate(x, y).scale(k);
  }

  function moveTo(t, animate) {
    if (animate && !reducedMotion) {
      const end = beginMove();
      svg.transition().duration(350).call(zoom.transform, t).on("end interrupt", end);
    } else svg.call(zoom.transform, t);
  }

  let moveEnd = null;
  function beginMove() {
    if (moveEnd) moveEnd();
    const done = opts.busyBegin ? opts.busyBegin("camera") : () => {};
    moveEnd = () => {
      done();
      moveEnd = null;
    };
    return moveEnd;
  }

  function fit(animate = true) {
    if (!layout) return;
    moveTo(fitTransform(), animate);
  }

  function centerAt(x, y, k = null, animate = true, fx = 0.5) {
    const r = svgSize();
    const kk = k ?? transform.k;
    moveTo(d3.zoomIdentity.translate(r.width * fx - x * kk, r.height / 2 - y * kk).scale(kk), animate);
  }

  // Keep display node `id` in view: pan when it is outside the middle 70 % of the view, and zoom in
  // to reading size when the view is zoomed out too far to read it (playback of big graphs).
  // `lead` > 0 (forward pass): put the node a third of the way in from the left, so the camera moves
  // less often along the flow (each move repaints the whole circuit); < 0 (backward): from the right.
  function follow(id, { zoomIn = true, animate = true, lead = 0 } = {}) {
    const n = layout && layout.nodes[id];
    if (!n) return;
    const r = svgSize();
    const k = transform.k;
    // zooming in: to reading size, and when the whole height still fits at that size, to the height
    // (then the camera only has to move sideways along the flow)
    let wantK = k;
    if (zoomIn && k < LOD_SCALE) {
      const b = bounds(), r = svgSize();
      const heightK = (r.height - 80) / (b.y1 - b.y0);
      wantK = heightK >= LOD_SCALE + 0.05 ? Math.min(1.1, heightK) : Math.min(1.1, Math.max(LOD_SCALE + 0.15, fitTransform().k));
    }
    // a node already in full view stays put (no panning while the whole graph is on screen); "the node" is
    // what is drawn for it, its name and numbers too, when it is drawn (else its layout box)
    let bx0 = n.x - n.w / 2, bx1 = n.x + n.w / 2, by0 = n.y - n.h / 2, by1 = n.y + n.h / 2;
    const drawn = nodeEls.get(id);
    if (drawn && drawn.g.isConnected) {
      const b = drawn.g.getBBox(); // in the group's coordinates: the group sits at (n.x, n.y)
      if (b.width && b.height) [bx0, bx1, by0, by1] = [n.x + b.x, n.x + b.x + b.width, n.y + b.y, n.y + b.y + b.height];
    }
    const x0 = bx0 * k + transform.x, x1 = bx1 * k + transform.x;
    const y0 = by0 * k + transform.y, y1 = by1 * k + transform.y;
    const inside = wantK === k && x0 > 30 && x1 < r.width - 30 && y0 > 44 && y1 < r.height - 44;
    if (inside) return;
    centerAt(n.x, n.y, wantK, animate, lead > 0 ? 0.3 : lead < 0 ? 0.7 : 0.5);
  }

  function setTransform(v) {
    svg.call(zoom.transform, d3.zoomIdentity.translate(v.x, v.y).scale(v.k));
  }

  function zoomBy(f) {
    if (reducedMotion) svg.call(zoom.scaleBy, f);
    else {
      const end = beginMove();
      svg.transition().duration(200).call(zoom.scaleBy, f).on("end interrupt", end);
    }
  }

  // The minimap helps only when the view shows part of a graph that does not fit readably.
  let minimapWanted = false;
  function updateMinimap() {
    if (!overview || !layout) return;
    const v = viewRect(0), b = bounds();
    const partial = v.x0 > b.x0 + 1 || v.y0 > b.y0 + 1 || v.x1 < b.x1 - 1 || v.y1 < b.y1 - 1;
    overview.setMinimap(minimapWanted && partial);
  }

  let canvasBlank = true;
  function paintOverview() {
    if (!overview || !overview.hasGraph) return;
    updateMinimap();
    // small graphs at reading size draw nothing on the canvas: do not repaint it every step
    const names = transform.k < LOD_SCALE;
    if (!big && !names && canvasBlank && !(minimapNode && !minimapNode.hidden)) return;
    canvasBlank = !big && !names;
    const step = sched && pos > 0 && pos < sched.steps.length ? sched.steps[pos - 1] : null;
    overview.draw({ x: transform.x, y: transform.y, k: transform.k }, {
      sched, pos, selected: selected === null ? null : display.rep[selected],
      active: big && step ? display.rep[step.node] : null, activeDir: step && step.phase === "backward" ? "bwd" : "fwd",
      names: transform.k < LOD_SCALE,
    });
  }

  // ---- full draw (structure changed) --------------------------------------------------------
  function render(g) {
    doc = g.doc; layout = g.layout; sched = g.sched; ops = g.ops; display = g.display;
    present = !!g.present;
    fitCap = present ? 6 : 2.2;
    big = display.nodes.length > BIG_NODES;
    svg.classed("big", big || display.nodes.length > 150);
    svgNode.dataset.mode = big ? "windowed" : "full";
    svgNode.dataset.engine = layout.engine || "";
    svgNode.dataset.nodes = String(display.nodes.length);
    placement = null;
    contentBox = null;
    selected = g.selected ?? null;
    focusId = null;
    if (overview) overview.setGraph({ layout, display, doc, drawShapes: big });
    minimapWanted = big || fitTransform().k < LOD_SCALE;
    if (tipNode) tipNode.hidden = true;
    windowIds = big ? new Set() : null;
    windowRect = null;
    build();
  }

  function clearElements() {
    // one replaceChildren per layer (d3's selectAll("*").remove() detached thousands of elements one
    // by one: 0.9 s for 600 nodes)
    gFlows.selectAll("*").interrupt();
    gFlows.node().replaceChildren();
    gEdges.node().replaceChildren();
    gNodes.node().replaceChildren();
    edgeEls = new Map();
    nodeEls = new Map();
    active = { node: null, edges: [], nodes: [] };
  }

  // Build SVG elements for the window (all display nodes for graphs that are not big).
  function build() {
    adjoint = adjointNodesOf(doc);
    userGates = new Set((doc.functions || []).filter((f) => f.kind === "gate").map((f) => f.name));
    // a rebuilt window must not drop the keyboard focus (it sat on an element that is replaced)
    const keepFocus = focusId !== null && document.activeElement && document.activeElement !== svgNode
      && svgNode.contains(document.activeElement);
    clearElements();
    const inWin = (id) => windowIds === null || windowIds.has(id);
    const edgeFrag = document.createDocumentFragment();
    for (const e of display.edges) {
      if (!inWin(e.source) && !inWin(e.target)) continue;
      const geo = layout.edges[e.id];
      if (!geo) continue;
      const g = el("g", { class: adjoint.has(e.origTarget) ? "edge adjoint" : "edge", "data-edge-id": e.id, "data-source": e.origSource, "data-target": e.origTarget }, edgeFrag);
      const title = el("title", {}, g);
      const line = el("path", { class: "edge-line", d: edgeD(geo), "marker-end": "url(#arrow)" }, g);
      edgeEls.set(e.id, { g, line, title, value: null, grad: null, pill: null, name: null, leaders: [], geo, e });
    }
    const outId = display.rep[doc.output_id];
    const out = layout.nodes[outId];
    if (out && inWin(outId)) {
      const x0 = out.x + out.w / 2, x1 = x0 + SIZES.stub;
      const g = el("g", { class: "edge output-edge", "data-edge-id": "out" }, edgeFrag);
      const title = el("title", {}, g);
      const line = el("path", { class: "edge-line", d: `M${x0},${out.y}L${x1},${out.y}`, "marker-end": "url(#arrow)" }, g);
      const stubGeo = { p: [x0, out.y, x0 + 20, out.y, x1 - 20, out.y, x1, out.y] };
      edgeEls.set("out", { g, line, title, value: null, grad: null, pill: null, name: null, leaders: [], geo: stubGeo, stub: { x0, x1, y: out.y } });
    }
    gEdges.node().appendChild(edgeFrag);

    const nodeFrag = document.createDocumentFragment();
    const ids = windowIds === null ? display.nodes : display.nodes.filter((id) => windowIds.has(id));
    for (const id of ids) {
      const geo = layout.nodes[id];
      if (!geo) continue;
      nodeFrag.appendChild(buildNode(id, geo));
    }
    gNodes.node().appendChild(nodeFrag);
    placement = null;
    updateValues(doc, sched);
    applyPos(pos, false, true);
    setSelected(selected);
    paintHighlight();
    const f = focusId !== null ? nodeEls.get(focusId) : null;
    if (f) {
      f.g.setAttribute("tabindex", "0");
      if (keepFocus) f.g.focus({ preventScroll: true });
    }
  }

  function buildNode(id, geo) {
    const n = doc.nodes[id];
    const grp = display.groupOf.get(id);
    const g = el("g", { class: `node ${geo.shape} op-${grp ? "group" : n.op}`, "data-node-id": id, "data-op": grp ? "group" : n.op,
      transform: `translate(${geo.x},${geo.y})`, tabindex: "-1", role: "button" });
    if (n.label) g.setAttribute("data-label", n.label);
    // grad()'s adjoint gates: the backward pass written as a second graph (its own colour)
    const members = grp ? grp.members : [id];
    if (members.every((m) => adjoint.has(m))) g.classList.add("adjoint");
    if (!grp && userGates.has(n.op)) {
      g.classList.add("user-gate");
      g.setAttribute("data-gate", n.op);
    }
    let card = null;
    if (grp) {
      g.setAttribute("data-group", grp.key);
      g.setAttribute("data-members", String(grp.members.length));
      shapeRect(g, geo, 9);
      const t = el("text", { class: "group-title", y: 5 }, g);
      t.textContent = grp.title;
      const badge = el("text", { class: "group-badge", x: geo.w / 2 - 6, y: -geo.h / 2 - 4 }, g);
      badge.textContent = tr("circuit.group_badge", { count: grp.members.length });
    } else if (geo.shape === "tensor") {
      g.classList.add(n.op === "input" ? "t-input" : n.op === "const" ? "t-const" : "t-gate");
      const meta = ops.get(n.op);
      card = buildCard(g, n, geo, cardTitle(n, ops));
      if (meta && meta.kind) g.setAttribute("data-kind", meta.kind);
    } else if (geo.shape === "input") {
      shapeRect(g, geo, 7);
      const t = el("text", { class: "node-name", y: 5 }, g);
      t.textContent = n.label;
    } else if (geo.shape === "const") {
      shapeRect(g, geo, geo.h / 2);
      const t = el("text", { class: "node-const", y: 4 }, g);
      t.textContent = fmt(n.value);
    } else {
      if (geo.w > geo.h) shapeRect(g, geo, geo.h / 2); // a pill for a gate named by a word
      else el("circle", { r: geo.w / 2, class: "node-shape" }, g);
      const meta = ops.get(n.op);
      const sym = meta ? meta.symbol : n.op;
      const fs = geo.w > geo.h ? 12.5 : symbolSize(sym);
      const t = el("text", { class: "node-symbol", "font-size": fs, y: fs * 0.35 }, g);
      t.textContent = sym;
    }
    g.addEventListener("click", (ev) => {
      ev.stopPropagation();
      focusNode(id, false);
      if (onSelect) onSelect(grp ? grp.head : id);
    });
    g.addEventListener("dblclick", (ev) => {
      ev.stopPropagation();
      if (onFold) onFold(id, grp ? grp.key : null);
    });
    g.addEventListener("keydown", (ev) => onNodeKey(ev, id));
    g.addEventListener("focus", () => { focusId = id; svgNode.dataset.focus = String(id); });
    nodeEls.set(id, { g, fork: null, reason: null, name: null, card, grp, leaders: [] });
    return g;
  }

  // ---- big graphs: the SVG window ------------------------------------------------------------
  function viewRect(margin = 0) {
    const r = svgSize();
    const k = transform.k;
    const x0 = -transform.x / k, y0 = -transform.y / k, w = r.width / k, h = r.height / k;
    return { x0: x0 - w * margin, y0: y0 - h * margin, x1: x0 + w * (1 + margin), y1: y0 + h * (1 + margin) };
  }

  function updateWindow() {
    if (!big || !layout) return;
    const show = transform.k >= LOD_SCALE;
    const v = viewRect(0);
    if (!show) {
      if (windowIds.size) {
        windowIds = new Set();
        windowRect = null;
        build();
      }
      svgNode.dataset.window = "0";
      return;
    }
    if (windowRect && v.x0 >= windowRect.x0 && v.y0 >= windowRect.y0 && v.x1 <= windowRect.x1 && v.y1 <= windowRect.y1) return;
    const wr = viewRect(0.4);
    const ids = new Set();
    for (const id of display.nodes) {
      const n = layout.nodes[id];
      if (n && n.x + n.w / 2 >= wr.x0 && n.x - n.w / 2 <= wr.x1 && n.y + n.h / 2 >= wr.y0 && n.y - n.h / 2 <= wr.y1) ids.add(id);
      if (ids.size > WINDOW_MAX) break;
    }
    windowIds = ids;
    windowRect = wr;
    svgNode.dataset.window = String(ids.size);
    build();
  }

  // ---- numbers and labels --------------------------------------------------------------------
  function updateValues(newDoc, newSched) {
    doc = newDoc; sched = newSched;
    if (!display) return;
    for (const e of sched.edges) {
      const x = edgeEls.get(e.id);
      if (!x) continue;
      x.g.setAttribute("data-value", dataOf(e.value));
      x.g.setAttribute("data-grad", dataOf(e.grad));
      x.g.classList.toggle("off-path", !doc.nodes[e.target].on_path || !doc.nodes[e.source].on_path);
      if (e.tensor) {
        x.g.setAttribute("data-shape", fmtShape(e.shape));
        x.g.classList.toggle("nonfinite", !doc.nodes[e.source].finite);
      } else {
        x.g.classList.toggle("nonfinite", nonFinite(e.value) || nonFinite(e.grad));
        x.g.classList.toggle("hidden-grad", isHidden(e.grad));
        x.g.classList.toggle("hidden-value", isHidden(e.value));
      }
      x.title.textContent = tr("circuit.edge_title", { from: nodeName(doc, e.source), to: nodeName(doc, e.target),
        value: isTensorValue(e.value) ? fmtT(e.value) : fmtFull(e.value), grad: isTensorValue(e.grad) ? fmtT(e.grad) : fmtFull(e.grad) });
    }
    const o = edgeEls.get("out");
    if (o) {
      const outNode = doc.nodes[doc.output_id];
      o.g.setAttribute("data-value", dataOf(outNode.value));
      o.g.setAttribute("data-grad", dataOf(outNode.grad));
      o.title.textContent = tr("circuit.output_title", { name: doc.output, value: fmtT(outNode.value) });
    }
    for (const [id, x] of nodeEls) {
      const n = doc.nodes[id];
      x.g.setAttribute("data-value", dataOf(n.value));
      x.g.setAttribute("data-grad", dataOf(n.grad));
      if (x.card) {
        x.g.setAttribute("data-shape", fmtShape(n.shape));
        paintCard(x.card, n);
      }
      const members = x.grp ? x.grp.members : [id];
      x.g.classList.toggle("nonfinite", members.some((m) => !doc.nodes[m].finite));
      x.g.classList.toggle("off-path", !n.on_path);
      x.g.classList.toggle("has-reason", members.some((m) => doc.nodes[m].reason));
      if (n.op === "const" && !x.card) {
        const t = x.g.querySelector(".node-const");
        if (t) t.textContent = fmt(n.value);
      }
      const op = n.op === "input" ? tr("inspector.kind_input") : n.op === "const" ? tr("inspector.kind_constant") : n.op;
      const title = x.grp ? tr("circuit.group_title", { title: x.grp.title, count: x.grp.members.length, value: fmtT(n.value), grad: fmtT(n.grad) })
        : x.card ? tr("circuit.node_aria_tensor", { name: nodeName(doc, id), op, shape: fmtShape(n.shape), value: fmtT(n.value), grad: fmtT(n.grad) })
          : tr("circuit.node_aria", { name: nodeName(doc, id), value: fmtFull(n.value), grad: fmtFull(n.grad), op });
      x.g.setAttribute("aria-label", title);
      markWrongGate(x, members);
    }
    placeAll();
  }

  // The numerical check's verdict on a gate the program defines (numeric.gates, ok: false): the
  // declared derivative disagrees with finite differences. A red ring, a ✗ and the rows in a tooltip.
  function markWrongGate(x, members) {
    const rows = (doc.numeric && doc.numeric.gates || []).filter((r) => r && r.ok === false && members.includes(r.node));
    x.g.classList.toggle("gate-wrong", rows.length > 0);
    let mark = x.g.querySelector(".gate-wrong-mark");
    if (!rows.length) {
      if (mark) mark.remove();
      x.g.removeAttribute("data-gate-wrong");
      return;
    }
    const text = rows.map((r) => tr("circuit.gate_wrong", { param: r.param, declared: fmtT(r.declared), numeric: fmtT(r.numeric) })).join("\n");
    x.g.setAttribute("data-gate-wrong", rows.map((r) => r.param).join(","));
    if (!mark) {
      const r = x.g.querySelector(".node-shape");
      const w = r ? Number(r.getAttribute("width") || 2 * Number(r.getAttribute("r") || 14)) : 28;
      const h = r ? Number(r.getAttribute("height") || 2 * Number(r.getAttribute("r") || 14)) : 28;
      mark = el("g", { class: "gate-wrong-mark", "data-testid": "gate-wrong", transform: `translate(${w / 2 - 2},${-h / 2 + 2})` }, x.g);
      el("circle", { r: 8 }, mark);
      el("text", { y: 4 }, mark).textContent = "✗";
      el("title", {}, mark);
    }
    mark.querySelector("title").textContent = text;
    x.g.setAttribute("aria-label", `${x.g.getAttribute("aria-label") || ""} ${text}`.trim());
  }

  function fontSize(kind) {
    return FONT[kind] * (present ? (kind === "name" ? 1.3 : PRESENT_SCALE) : 1);
  }

  // Build the label requests for what the SVG holds, place them, and write the text elements.
  function placeAll() {
    const reqs = [];
    const obstacles = [];
    const o = edgeEls.get("out");
    if (o && o.stub) {
      const { x0, x1, y } = o.stub;
      const outNode = doc.nodes[doc.output_id];
      const tensorOut = isTensorValue(outNode.value);
      const hv = fontSize("value") * 1.2;
      const vText = valueLabel(outNode.value), gText = tensorOut ? tr("circuit.ones") : fmt(outNode.grad);
      const wide = Math.max(measurer(vText, "value", fontSize("value")).w, measurer(gText, "grad", fontSize("grad")).w + 2 * GRAD_PAD[0]);
      const nameX = Math.max(x1, (x0 + x1) / 2 + wide / 2) + 8 + measurer(doc.output, "name", fontSize("name")).w / 2;
      reqs.push({ key: "out:v", kind: "fixed", text: vText, size: fontSize("value"), at: [(x0 + x1) / 2, y - 3 - hv / 2] });
      reqs.push({ key: "out:g", kind: "fixed", text: gText, size: fontSize("grad"), pad: GRAD_PAD, at: [(x0 + x1) / 2, y + 4 + hv / 2] });
      reqs.push({ key: "out:n", kind: "fixed", text: doc.output, size: fontSize("name"), at: [nameX, y] });
    }
    const ids = windowIds === null ? display.nodes : display.nodes.filter((id) => windowIds.has(id));
    for (const id of ids) {
      const geo = layout.nodes[id];
      const n = doc.nodes[id];
      const grp = display.groupOf.get(id);
      if (!grp && n.label && n.op !== "input" && n.op !== "const") {
        reqs.push({ key: `n:${id}`, kind: "name", text: n.label, size: fontSize("name"), node: geo });
      }
      const fs = grp ? null : forkSum(doc, id, sched.outs);
      if (fs) {
        const alts = [];
        if (!isTensorValue(n.grad)) alts.push(tr("circuit.fork_many", { count: sched.outs[id].length, value: fmt(n.grad) }));
        reqs.push({ key: `f:${id}`, kind: "fork", text: fs, alts, size: fontSize("fork"), node: geo });
      }
      const reasonNode = grp ? grp.members.find((m) => doc.nodes[m].reason) : n.reason ? id : undefined;
      if (reasonNode !== undefined) {
        reqs.push({ key: `r:${id}`, kind: "reason", text: `⚠ ${reasonText(doc.nodes[reasonNode].reason, doc, nodeName)}`, size: fontSize("reason"), node: geo, stack: fs ? fontSize("fork") * 1.3 : 0 });
      }
    }
    for (const e of sched.edges) {
      const x = edgeEls.get(e.id);
      if (!x || !x.e) continue;
      const edge = { id: e.id, pts: pairsOf(x.geo) };
      reqs.push({ key: `v:${e.id}`, kind: "value", text: valueLabel(e.value), alts: isTensorValue(e.value) ? [] : shorter(valueLabel, e.value),
        size: fontSize("value"), edge, pair: `g:${e.id}` });
      if (e.grad === null || e.grad === undefined) continue; // from a constant: no gradient comes back
      reqs.push({ key: `g:${e.id}`, kind: "grad", text: gradLabel(e.grad), alts: isTensorValue(e.grad) ? [] : shorter(gradLabel, e.grad),
        size: fontSize("grad"), edge, pad: GRAD_PAD });
    }
    // unnamed gates: their sub-expression (`w0·x0`), the name captions and the inspector use, placed
    // after the numbers (a number never moves for a name)
    for (const id of ids) {
      const n = doc.nodes[id];
      if (display.groupOf.get(id) || n.label || n.op === "input" || n.op === "const" || layout.nodes[id].shape === "tensor") continue;
      const text = nodeName(doc, id);
      if (text !== `n${id}`) reqs.push({ key: `n:${id}`, kind: "name", text, size: fontSize("name") * 0.86, node: layout.nodes[id], sub: true });
    }
    const sub = windowIds === null ? layout : { nodes: Object.fromEntries(ids.map((id) => [id, layout.nodes[id]])),
      edges: Object.fromEntries([...edgeEls.entries()].filter(([, x]) => x.e).map(([id, x]) => [id, x.geo])) };
    const res = placeLabels(sub, reqs, measurer, { obstacles, prev: placement ? placement.placed : null });
    placement = res;
    if (windowIds === null) contentBox = { x0: res.bounds.x0 - 6, y0: res.bounds.y0 - 6, x1: res.bounds.x1 + 6, y1: res.bounds.y1 + 6 };
    writeLabels(reqs, res.placed);
  }

  // Write placed labels into the SVG: the text elements are made once per label and then only get
  // new text and coordinates (a slider drag re-places labels without rebuilding anything).
  function labelEl(holder, slot, tag, attrs, parent) {
    let e = holder[slot];
    if (!e) {
      e = el(tag, attrs, parent);
      holder[slot] = e;
    } else for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.removeAttribute("visibility");
    return e;
  }

  function writeLabels(reqs, placed) {
    for (const x of edgeEls.values()) {
      for (const l of x.leaders) l.remove();
      x.leaders = [];
      x.seen = false;
    }
    for (const x of nodeEls.values()) {
      for (const l of x.leaders || []) l.remove();
      x.leaders = [];
      x.seenFork = x.seenReason = x.seenName = false;
    }
    let hidden = 0, abbreviated = 0, leaders = 0;
    const hide = (e) => e && e.setAttribute("visibility", "hidden");
    for (const req of reqs) {
      const p = placed.get(req.key);
      if (!p) continue;
      const colon = req.key.indexOf(":");
      const kind = req.key.slice(0, colon), id = req.key.slice(colon + 1);
      if (p.hidden) hidden++;
      if (p.abbreviated) abbreviated++;
      const mk = req.kind === "fixed" ? (id === "n" ? "name" : id === "g" ? "grad" : "value") : req.kind;
      const m = measurer.metrics(mk);
      const baseline = p.y - (m.h * req.size) / 2 + m.asc * req.size;
      if (kind === "v" || kind === "g" || kind === "out") {
        const x = edgeEls.get(kind === "out" ? "out" : id);
        if (!x) continue;
        const cls = kind === "v" || (kind === "out" && id === "v") ? "edge-value"
          : kind === "g" || (kind === "out" && id === "g") ? "edge-grad" : "output-name";
        const slot = cls === "edge-value" ? "value" : cls === "edge-grad" ? "grad" : "name";
        if (cls === "edge-grad") {
          const pill = labelEl(x, "pill", "rect", { class: "grad-pill", x: (p.x - p.w / 2).toFixed(1), y: (p.y - p.h / 2).toFixed(1),
            width: p.w.toFixed(1), height: p.h.toFixed(1), rx: 4 }, x.g);
          if (p.hidden) hide(pill);
        }
        const tx = labelEl(x, slot, "text", { class: cls, x: p.x.toFixed(1), y: baseline.toFixed(1), "font-size": req.size }, x.g);
        if (tx.textContent !== p.text) tx.textContent = p.text;
        if (p.hidden) hide(tx);
        if (p.leader) {
          leaders++;
          const [ax, ay, bx, by] = p.leader;
          x.leaders.push(el("line", { class: `leader ${slot === "value" ? "leader-v" : "leader-g"}`, x1: ax, y1: ay, x2: bx, y2: by }, x.g));
        }
      } else {
        const x = nodeEls.get(Number(id));
        if (!x) continue;
        const geo = layout.nodes[id];
        const cls = kind === "n" ? (req.sub ? "node-label node-sub" : "node-label") : kind === "f" ? "node-fork" : "node-reason";
        const slot = kind === "n" ? "name" : kind === "f" ? "fork" : "reason";
        const tx = labelEl(x, slot, "text", { class: cls, x: (p.x - geo.x).toFixed(1), y: (baseline - geo.y).toFixed(1),
          "font-size": req.size }, x.g);
        if (tx.textContent !== p.text) tx.textContent = p.text;
        if (p.hidden) hide(tx);
        x[kind === "n" ? "seenName" : kind === "f" ? "seenFork" : "seenReason"] = true;
        if (p.leader) {
          leaders++;
          const [ax, ay, bx, by] = p.leader;
          x.leaders.push(el("line", { class: `leader leader-${kind}`, x1: ax - geo.x, y1: ay - geo.y, x2: bx - geo.x, y2: by - geo.y }, x.g));
        }
      }
    }
    // labels that no longer exist (a fork that is no longer a fork, a reason that went away)
    for (const x of nodeEls.values()) {
      if (!x.seenFork && x.fork) { x.fork.remove(); x.fork = null; }
      if (!x.seenReason && x.reason) { x.reason.remove(); x.reason = null; }
      if (!x.seenName && x.name) { x.name.remove(); x.name = null; }
      x.g.classList.toggle("fork", !!x.fork);
    }
    svgNode.dataset.labelsHidden = String(hidden);
    svgNode.dataset.labelsAbbreviated = String(abbreviated);
    svgNode.dataset.labelsLeaders = String(leaders);
  }

  // ---- animation position ---------------------------------------------------------------------
  function revealNode(id) {
    const rid = display.rep[id];
    const x = nodeEls.get(rid);
    if (x) {
      const head = x.grp ? x.grp.head : rid;
      x.g.classList.toggle("v-on", isValueShown(sched, head, pos));
      x.g.classList.toggle("g-on", isGradShown(sched, head, pos));
    }
  }

  function applyPos(newPos, animate, full = false, from = null) {
    if (!sched || !display) return;
    const total = sched.steps.length;
    newPos = Math.max(0, Math.min(total, newPos));
    const lo = full ? 0 : Math.min(pos, newPos);
    const hi = full ? total : Math.max(pos, newPos);
    const old = pos;
    pos = newPos;
    const touched = new Set();
    for (let s = lo; s < hi; s++) touched.add(sched.steps[s].node);
    for (const id of touched) {
      revealNode(id);
      const vOn = isValueShown(sched, id, pos);
      const gOn = isGradShown(sched, id, pos);
      for (const oe of sched.outs[id]) edgeEls.get(oe.id)?.g.classList.toggle("v-on", vOn);
      doc.nodes[id].operands.forEach((_, i) => edgeEls.get(`e${id}_${i}`)?.g.classList.toggle("g-on", gOn));
      if (id === doc.output_id) {
        const o = edgeEls.get("out");
        if (o) {
          o.g.classList.toggle("v-on", vOn);
          o.g.classList.toggle("g-on", gOn);
        }
      }
    }
    // Highlight the step just taken (stepping by statement: every step since `from`, together).
    for (const id of active.nodes || []) nodeEls.get(id)?.g.classList.remove("active", "fwd", "bwd");
    for (const id of active.edges) {
      const e = edgeEls.get(id);
      if (e) {
        e.g.classList.remove("active", "fwd", "bwd");
        e.line.setAttribute("marker-end", "url(#arrow)");
      }
    }
    gFlows.selectAll("*").interrupt().remove();
    active = { node: null, edges: [], nodes: [] };
    svg.attr("data-pos", pos).attr("data-total", total);
    svg.attr("data-phase", pos === 0 ? "start" : pos <= sched.forwardCount ? "forward" : "backward");
    if (pos === 0 || pos === total) {
      svg.attr("data-active-edges", "");
      svg.attr("data-active-node", "");
      svg.attr("data-active-display", "");
      paintOverview();
      return;
    }
    const step = sched.steps[pos - 1];
    const dir = step.phase === "forward" ? "fwd" : "bwd";
    const first = from !== null && from < pos - 1 ? from : pos - 1;
    const edges = [];
    const nodes = new Set();
    for (let s = Math.max(first, step.phase === "backward" ? sched.forwardCount : 0); s < pos; s++) {
      nodes.add(display.rep[sched.steps[s].node]);
      for (const id of sched.steps[s].edges) edges.push(id);
    }
    active = { node: display.rep[step.node], edges, nodes: [...nodes] };
    for (const id of nodes) nodeEls.get(id)?.g.classList.add("active", dir);
    let flows = 0;
    for (const id of edges) {
      const e = edgeEls.get(id);
      if (!e) continue;
      e.g.classList.add("active", dir);
      e.line.setAttribute("marker-end", `url(#arrow-${dir})`);
      if (animate && !reducedMotion && old !== pos && flows++ < 40) flow(e, dir);
    }
    svg.attr("data-active-edges", step.edges.join(" "));
    svg.attr("data-active-node", step.node);
    svg.attr("data-active-display", display.rep[step.node]);
    paintOverview();
  }

  // A coloured stroke grows along the edge (forward: source to target; backward: the reverse)
  // and a marker carries the number: a dot forward, a diamond backward (shape, not only colour).
  function flow(e, dir) {
    const p = gFlows.append("path").attr("class", `edge-flow ${dir}`).attr("d", edgeD(e.geo));
    const node = p.node();
    const L = node.getTotalLength();
    const dur = Math.max(120, stepMs * 0.8);
    p.attr("stroke-dasharray", `${L} ${L}`)
      .attr("stroke-dashoffset", dir === "fwd" ? L : -L)
      .transition().duration(dur).ease(d3.easeCubicInOut)
      .attr("stroke-dashoffset", 0)
      .transition().duration(250).style("opacity", 0).remove();
    const dot = dir === "fwd" ? gFlows.append("circle").attr("r", 4.5)
      : gFlows.append("path").attr("d", "M0,-6L6,0L0,6L-6,0Z");
    dot.attr("class", `flow-dot ${dir}`);
    dot.transition().duration(dur).ease(d3.easeCubicInOut)
      .attrTween("transform", () => (t) => {
        const q = node.getPointAtLength(dir === "fwd" ? t * L : (1 - t) * L);
        return `translate(${q.x},${q.y})`;
      })
      .transition().duration(150).style("opacity", 0).remove();
  }

  // A lesson step's highlighted nodes and edges (node ids of the document, edge ids e<target>_<i>).
  let highlight = null;
  function paintHighlight() {
    for (const x of nodeEls.values()) x.g.classList.remove("hl");
    for (const x of edgeEls.values()) x.g.classList.remove("hl");
    if (!highlight || !display) return;
    for (const id of highlight.nodes || []) nodeEls.get(display.rep[id] ?? id)?.g.classList.add("hl");
    for (const id of highlight.edges || []) edgeEls.get(id)?.g.classList.add("hl");
    svgNode.dataset.highlight = `${(highlight.nodes || []).join(",")}|${(highlight.edges || []).join(",")}`;
  }
  function setHighlight(h) {
    highlight = h;
    if (!h) delete svgNode.dataset.highlight;
    paintHighlight();
  }

  function setSelected(id) {
    selected = id;
    for (const x of nodeEls.values()) x.g.classList.remove("selected");
    if (id !== null && id !== undefined && display) nodeEls.get(display.rep[id])?.g.classList.add("selected");
    paintOverview();
  }

  // ---- keyboard: focus moves along edges ------------------------------------------------------
  // → to a node this one feeds, ← to one of its operands, ↑/↓ to the other choices of the last
  // move, Enter (or space) inspects, Escape leaves the circuit. One node is in the tab order.
  function neighbours(id, dir) {
    const out = [];
    for (const e of display.edges) {
      if (dir > 0 && e.source === id) out.push(e.target);
      if (dir < 0 && e.target === id) out.push(e.source);
    }
    return [...new Set(out)];
  }

  function focusNode(id, scroll = true) {
    const rid = display ? display.rep[id] ?? id : id;
    if (big && (!windowIds || !windowIds.has(rid))) {
      follow(rid, { zoomIn: true, animate: false });
      updateWindow();
    }
    for (const x of nodeEls.values()) x.g.setAttribute("tabindex", "-1");
    const x = nodeEls.get(rid);
    if (!x) return;
    x.g.setAttribute("tabindex", "0");
    focusId = rid;
    if (scroll) {
      follow(rid, { zoomIn: true, animate: false });
      x.g.focus({ preventScroll: true });
    }
    svgNode.dataset.focus = String(rid);
  }

  function onNodeKey(ev, id) {
    const key = ev.key;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      const dir = key === "ArrowRight" ? 1 : -1;
      const options = neighbours(id, dir);
      if (options.length) {
        lastMove = { from: id, options, index: 0 };
        focusNode(options[0]);
      }
    } else if (key === "ArrowUp" || key === "ArrowDown") {
      if (lastMove && lastMove.options.length > 1 && lastMove.options.includes(id)) {
        const k = (lastMove.options.indexOf(id) + (key === "ArrowDown" ? 1 : -1) + lastMove.options.length) % lastMove.options.length;
        focusNode(lastMove.options[k]);
      }
    } else if (key === "Enter" || key === " ") {
      const grp = display.groupOf.get(id);
      if (onSelect) onSelect(grp ? grp.head : id);
    } else if (key === "Escape") {
      leaving = true;
      svgNode.focus({ preventScroll: true });
      leaving = false;
    } else if (key === "+" || key === "-") {
      if (onFold) onFold(id, display.groupOf.get(id)?.key ?? null, key === "+" ? "unfold" : "fold");
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
  }

  // Tab into the circuit: the selected node, else the first input.
  svgNode.setAttribute("tabindex", "0");
  let leaving = false; // Escape puts the focus on the circuit itself, where arrows step the animation
  svgNode.addEventListener("focus", (ev) => {
    if (!display || leaving || (ev.relatedTarget && svgNode.contains(ev.relatedTarget))) return;
    const start = selected !== null ? display.rep[selected] : display.nodes[0];
    // (moving the focus from inside the svg's own focus event does not take; do it right after)
    if (start !== undefined) queueMicrotask(() => focusNode(start));
  });

  return {
    render,
    updateValues,
    setPos: (p, animate = false, from = null) => applyPos(p, animate, false, from),
    fit,
    fitTransform: () => { const t = fitTransform(); return { x: t.x, y: t.y, k: t.k }; },
    zoomBy,
    setTransform,
    follow,
    centerAt,
    getTransform: () => ({ x: transform.x, y: transform.y, k: transform.k }),
    setSelected,
    setHighlight,
    focusNode,
    setReducedMotion: (v) => { reducedMotion = v; },
    setStepMs: (ms) => { stepMs = ms; },
    repaint: () => paintOverview(),
    // what an export should frame: everything drawn, labels included
    contentBounds: () => (layout ? { ...bounds() } : null),
    clear() {
      doc = layout = sched = display = null;
      clearElements();
      if (overview) overview.clear();
    },
    stats: () => ({
      nodes: display ? display.nodes.length : 0, svgNodes: nodeEls.size, big, engine: layout ? layout.engine : null,
      labels: placement ? placement.placed.size : 0,
      hidden: Number(svgNode.dataset.labelsHidden || 0), leaders: Number(svgNode.dataset.labelsLeaders || 0),
      abbreviated: Number(svgNode.dataset.labelsAbbreviated || 0),
    }),
    get pos() { return pos; },
    get big() { return big; },
    svgNode,
  };
}

/** A node's rounded box, centred on the node's origin. */
function shapeRect(g, geo, rx) {
  return el("rect", { class: "node-shape", x: -geo.w / 2, y: -geo.h / 2, width: geo.w, height: geo.h, rx }, g);
}

// Text sizes for the label placer: widths from a canvas in each label's font (read from a probe
// <text> with the label's class, so CSS stays the one source of fonts), vertical extent and
// baseline from the SVG's own bounding box of a probe.
function createMeasurer(svgNode) {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const fonts = new Map();
  const metricsCache = new Map();
  const widths = new Map();
  const CLASSES = { value: "edge-value", grad: "edge-grad", fork: "node-fork", name: "node-label", reason: "node-reason" };
  function probe(kind) {
    if (fonts.has(kind)) return;
    const t = el("text", { class: CLASSES[kind] || "edge-value", x: 0, y: 0, "font-size": 100, opacity: 0 }, svgNode);
    t.textContent = "0.123456789−";
    const cs = getComputedStyle(t);
    fonts.set(kind, `${cs.fontStyle} ${cs.fontWeight} 100px ${cs.fontFamily}`);
    const b = t.getBBox();
    metricsCache.set(kind, { asc: -b.y / 100, h: b.height / 100 });
    t.remove();
  }
  const measure = (text, kind, size) => {
    probe(kind);
    const key = `${kind}|${text}`;
    let w = widths.get(key);
    if (w === undefined) {
      ctx.font = fonts.get(kind);
      w = ctx.measureText(text).width / 100;
      if (widths.size > 20000) widths.clear();
      widths.set(key, w);
    }
    const m = metricsCache.get(kind);
    return { w: w * size, h: m.h * size };
  };
  measure.metrics = (kind) => {
    probe(kind);
    return metricsCache.get(kind);
  };
  return measure;
}
