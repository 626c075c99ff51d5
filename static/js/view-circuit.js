// SVG drawing of the circuit with d3: nodes and edges from the layout, numbers from the
// evaluation, reveal/highlight classes from the animation position. View only: it never calls
// the API and never orders nodes itself.
import { fmt, fmtFull, raw } from "./format.js";
import { cardTitle, SIZES } from "./layout.js";
import { forkSum, isGradShown, isValueShown, nodeName } from "./schedule.js";
import { fmtShape, fmtT, isTensorValue, rawT, size, stats } from "./tensor.js";
import { bindTooltip, buildCard, paintCard } from "./view-heatmap.js";

const d3 = globalThis.d3;
const SVGNS = "http://www.w3.org/2000/svg";
const LOD_SCALE = 0.55; // below this zoom, edge labels fade out

function symbolSize(sym) {
  const n = [...sym].length;
  return n <= 1 ? 20 : n === 2 ? 15 : n === 3 ? 13 : 11;
}

// Edge label text: a number, or for a tensor its shape going forward and the gradient's norm back.
function valueLabel(v) {
  if (isTensorValue(v)) return fmtShape(Array.isArray(v) ? shapeOfList(v) : v.shape);
  return fmt(v);
}
function gradLabel(g) {
  if (isTensorValue(g)) {
    const s = stats(g);
    return Number.isFinite(s.norm) ? `‖g‖ ${fmt(s.norm, 3)}` : fmtShape(g.shape);
  }
  return fmt(g);
}
function shapeOfList(v) {
  return Array.isArray(v[0]) ? [v.length, v[0].length] : [v.length];
}
function dataOf(v) {
  // full numbers for small tensors only (a data attribute is not the place for 4,096 numbers)
  if (isTensorValue(v)) return Array.isArray(v) && size(shapeOfList(v)) <= 256 ? rawT(v) : "";
  return raw(v);
}

export function createCircuitView(svgNode, { onSelect, onZoom, fxNode = null, tipNode = null } = {}) {
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

  let doc = null, layout = null, sched = null, ops = null;
  let pos = 0;
  let edgeEls = new Map(); // edge id -> {g, line, value, grad}
  let nodeEls = new Map(); // node id -> {g, fork, reason, card}
  let active = { node: null, edges: [] };
  let transform = d3.zoomIdentity;
  let reducedMotion = false;
  let stepMs = 700;

  const zoom = d3.zoom().scaleExtent([0.03, 5]).on("zoom", (ev) => {
    transform = ev.transform;
    viewport.attr("transform", transform);
    if (fx) fxViewport.attr("transform", transform);
    svg.classed("lod-low", transform.k < LOD_SCALE);
    if (onZoom) onZoom({ x: transform.x, y: transform.y, k: transform.k }, ev.sourceEvent != null);
  });
  svg.call(zoom).on("dblclick.zoom", null);
  bindTooltip(svgNode, tipNode, {
    nodeOf: (id) => (doc ? doc.nodes[id] : null),
    nameOf: (id) => nodeName(doc, id),
    gradShown: (id) => (sched ? isGradShown(sched, id, pos) : true),
    outputName: () => (doc ? doc.output : "f"),
  });
  bg.on("click", () => onSelect && onSelect(null));

  function bounds() {
    const out = layout.nodes[doc.output_id];
    const right = out ? Math.max(layout.width, out.x + out.w / 2 + SIZES.stub + 30) : layout.width;
    return { x0: -30, y0: -34, x1: right + 10, y1: layout.height + 34 };
  }

  function fit(animate = true) {
    if (!layout) return;
    const r = svgNode.getBoundingClientRect();
    const b = bounds();
    const cw = b.x1 - b.x0, ch = b.y1 - b.y0;
    const k = Math.min(r.width / cw, r.height / ch, 1.6);
    const x = (r.width - cw * k) / 2 - b.x0 * k;
    const y = (r.height - ch * k) / 2 - b.y0 * k;
    const t = d3.zoomIdentity.translate(x, y).scale(k);
    (animate && !reducedMotion ? svg.transition().duration(350) : svg).call(zoom.transform, t);
  }

  function setTransform(v) {
    svg.call(zoom.transform, d3.zoomIdentity.translate(v.x, v.y).scale(v.k));
  }

  function zoomBy(f) {
    svg.transition().duration(reducedMotion ? 0 : 200).call(zoom.scaleBy, f);
  }

  // ---- full draw (structure changed) --------------------------------------------------------
  function render(newDoc, newLayout, newSched, opsMap) {
    doc = newDoc; layout = newLayout; sched = newSched; ops = opsMap;
    gEdges.selectAll("*").remove();
    gFlows.selectAll("*").remove();
    gNodes.selectAll("*").remove();
    edgeEls = new Map();
    nodeEls = new Map();
    active = { node: null, edges: [] };
    const big = doc.nodes.length > 150;
    svg.classed("big", big);

    // Edges: built with plain DOM calls (fast for thousands of elements).
    const edgeFrag = document.createDocumentFragment();
    const edgeList = sched.edges.map((e) => ({ ...e, geo: layout.edges[e.id] })).filter((e) => e.geo);
    for (const e of edgeList) {
      const g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", "edge");
      g.setAttribute("data-edge-id", e.id);
      g.setAttribute("data-source", e.source);
      g.setAttribute("data-target", e.target);
      const line = document.createElementNS(SVGNS, "path");
      line.setAttribute("class", "edge-line");
      line.setAttribute("d", e.geo.d);
      line.setAttribute("marker-end", "url(#arrow)");
      g.appendChild(line);
      const { lx, ly, tdx, tdy } = e.geo;
      const nx = tdy, ny = -tdx; // normal pointing "up" for a left-to-right edge
      const value = document.createElementNS(SVGNS, "text");
      value.setAttribute("class", "edge-value");
      value.setAttribute("x", (lx + nx * 6).toFixed(1));
      value.setAttribute("y", (ly + ny * 6 - 1).toFixed(1));
      g.appendChild(value);
      const grad = document.createElementNS(SVGNS, "text");
      grad.setAttribute("class", "edge-grad");
      grad.setAttribute("x", (lx - nx * 6).toFixed(1));
      grad.setAttribute("y", (ly - ny * 6 + 11).toFixed(1));
      g.appendChild(grad);
      edgeFrag.appendChild(g);
      edgeEls.set(e.id, { g, line, value, grad, geo: e.geo });
    }
    // The output stub: the circuit's result leaves the output node to the right.
    const out = layout.nodes[doc.output_id];
    if (out) {
      const x0 = out.x + out.w / 2, x1 = x0 + SIZES.stub;
      const g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", "edge output-edge");
      g.setAttribute("data-edge-id", "out");
      const line = document.createElementNS(SVGNS, "path");
      line.setAttribute("class", "edge-line");
      line.setAttribute("d", `M${x0},${out.y}L${x1},${out.y}`);
      line.setAttribute("marker-end", "url(#arrow)");
      g.appendChild(line);
      const value = document.createElementNS(SVGNS, "text");
      value.setAttribute("class", "edge-value");
      value.setAttribute("x", (x0 + x1) / 2);
      value.setAttribute("y", out.y - 7);
      const grad = document.createElementNS(SVGNS, "text");
      grad.setAttribute("class", "edge-grad");
      grad.setAttribute("x", (x0 + x1) / 2);
      grad.setAttribute("y", out.y + 17);
      g.appendChild(value);
      g.appendChild(grad);
      const name = document.createElementNS(SVGNS, "text");
      name.setAttribute("class", "output-name");
      name.setAttribute("x", x1 + 6);
      name.setAttribute("y", out.y + 5);
      name.textContent = doc.output;
      g.appendChild(name);
      edgeFrag.appendChild(g);
      edgeEls.set("out", { g, line, value, grad, geo: { d: `M${x0},${out.y}L${x1},${out.y}` } });
    }
    gEdges.node().appendChild(edgeFrag);

    const nodeFrag = document.createDocumentFragment();
    for (const n of doc.nodes) {
      const geo = layout.nodes[n.id];
      if (!geo) continue;
      const g = document.createElementNS(SVGNS, "g");
      g.setAttribute("class", `node ${geo.shape} op-${n.op}`);
      g.setAttribute("data-node-id", n.id);
      g.setAttribute("data-op", n.op);
      if (n.label) g.setAttribute("data-label", n.label);
      g.setAttribute("transform", `translate(${geo.x},${geo.y})`);
      let card = null;
      if (geo.shape === "tensor") {
        g.classList.add(n.op === "input" ? "t-input" : n.op === "const" ? "t-const" : "t-gate");
        const meta = ops.get(n.op);
        card = buildCard(g, n, geo, cardTitle(n, ops));
        if (meta && meta.kind) g.setAttribute("data-kind", meta.kind);
        if (n.label && n.op !== "input") {
          const l = document.createElementNS(SVGNS, "text");
          l.setAttribute("class", "node-label");
          l.setAttribute("y", -geo.h / 2 - 7);
          l.textContent = n.label;
          g.appendChild(l);
        }
      } else if (geo.shape === "input") {
        shapeRect(g, geo, 7);
        const t = document.createElementNS(SVGNS, "text");
        t.setAttribute("class", "node-name");
        t.setAttribute("y", 5);
        t.textContent = n.label;
        g.appendChild(t);
      } else if (geo.shape === "const") {
        shapeRect(g, geo, geo.h / 2);
        const t = document.createElementNS(SVGNS, "text");
        t.setAttribute("class", "node-const");
        t.setAttribute("y", 4);
        t.textContent = fmt(n.value);
        g.appendChild(t);
      } else {
        if (geo.w > geo.h) { // a pill for a gate named by a word
          shapeRect(g, geo, geo.h / 2);
        } else {
          const c = document.createElementNS(SVGNS, "circle");
          c.setAttribute("r", geo.w / 2);
          c.setAttribute("class", "node-shape");
          g.appendChild(c);
        }
        const meta = ops.get(n.op);
        const sym = meta ? meta.symbol : n.op;
        const t = document.createElementNS(SVGNS, "text");
        t.setAttribute("class", "node-symbol");
        const fs = geo.w > geo.h ? 12.5 : symbolSize(sym);
        t.setAttribute("font-size", fs);
        t.setAttribute("y", fs * 0.35);
        t.textContent = sym;
        g.appendChild(t);
        if (n.label) {
          const l = document.createElementNS(SVGNS, "text");
          l.setAttribute("class", "node-label");
          l.setAttribute("y", -geo.h / 2 - 7);
          l.textContent = n.label;
          g.appendChild(l);
        }
      }
      const fork = document.createElementNS(SVGNS, "text");
      fork.setAttribute("class", "node-fork");
      fork.setAttribute("y", geo.h / 2 + 15);
      g.appendChild(fork);
      const reason = document.createElementNS(SVGNS, "text");
      reason.setAttribute("class", "node-reason");
      reason.setAttribute("y", geo.h / 2 + 30);
      g.appendChild(reason);
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (onSelect) onSelect(n.id);
      });
      nodeFrag.appendChild(g);
      nodeEls.set(n.id, { g, fork, reason, card });
    }
    gNodes.node().appendChild(nodeFrag);
    updateValues(doc, sched);
    applyPos(pos, false, true);
  }

  // ---- numbers in place (values changed, structure did not) ---------------------------------
  function updateValues(newDoc, newSched) {
    doc = newDoc; sched = newSched;
    for (const e of sched.edges) {
      const el = edgeEls.get(e.id);
      if (!el) continue;
      el.value.textContent = valueLabel(e.value);
      el.grad.textContent = gradLabel(e.grad);
      el.g.setAttribute("data-value", dataOf(e.value));
      el.g.setAttribute("data-grad", dataOf(e.grad));
      el.g.classList.toggle("off-path", !doc.nodes[e.target].on_path || !doc.nodes[e.source].on_path);
      if (e.tensor) {
        el.g.setAttribute("data-shape", fmtShape(e.shape));
        el.g.classList.toggle("nonfinite", !doc.nodes[e.source].finite);
      } else {
        el.g.classList.toggle("nonfinite", !Number.isFinite(e.value) || (e.grad !== null && !Number.isFinite(e.grad)));
      }
    }
    const o = edgeEls.get("out");
    if (o) {
      const outNode = doc.nodes[doc.output_id];
      const tensorOut = isTensorValue(outNode.value);
      o.value.textContent = valueLabel(outNode.value);
      o.grad.textContent = tensorOut ? "ones" : fmt(outNode.grad);
      o.g.setAttribute("data-value", dataOf(outNode.value));
      o.g.setAttribute("data-grad", dataOf(outNode.grad));
    }
    for (const n of doc.nodes) {
      const el = nodeEls.get(n.id);
      if (!el) continue;
      const fs = forkSum(doc, n.id, sched.outs);
      el.fork.textContent = fs ? fs : "";
      el.g.classList.toggle("fork", !!fs);
      el.g.setAttribute("data-value", dataOf(n.value));
      el.g.setAttribute("data-grad", dataOf(n.grad));
      if (el.card) {
        el.g.setAttribute("data-shape", fmtShape(n.shape));
        paintCard(el.card, n);
      }
      el.g.classList.toggle("nonfinite", !n.finite);
      el.g.classList.toggle("off-path", !n.on_path);
      el.reason.textContent = n.reason ? `⚠ ${n.reason}` : "";
      el.g.classList.toggle("has-reason", !!n.reason);
      if (n.op === "const" && !el.card) {
        const t = el.g.querySelector(".node-const");
        if (t) t.textContent = fmt(n.value);
      }
      const title = el.card
        ? `${nodeName(doc, n.id)} (${n.op}, ${fmtShape(n.shape)}): value ${fmtT(n.value)}, grad ${fmtT(n.grad)}`
        : `${nodeName(doc, n.id)} (${n.op}): value ${fmtFull(n.value)}, grad ${fmtFull(n.grad)}`;
      el.g.setAttribute("aria-label", title);
    }
  }

  // ---- animation position ---------------------------------------------------------------------
  function applyPos(newPos, animate, full = false) {
    if (!sched) return;
    const total = sched.steps.length;
    newPos = Math.max(0, Math.min(total, newPos));
    const from = full ? 0 : Math.min(pos, newPos);
    const to = full ? total : Math.max(pos, newPos);
    pos = newPos;
    // Re-evaluate reveal classes only for nodes touched by the steps between the two positions.
    const touched = new Set();
    for (let s = from; s < to; s++) touched.add(sched.steps[s].node);
    for (const id of touched) {
      const vOn = isValueShown(sched, id, pos);
      const gOn = isGradShown(sched, id, pos);
      const el = nodeEls.get(id);
      if (el) {
        el.g.classList.toggle("v-on", vOn);
        el.g.classList.toggle("g-on", gOn);
      }
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
    // Highlight the step just taken.
    if (active.node !== null) nodeEls.get(active.node)?.g.classList.remove("active", "fwd", "bwd");
    for (const id of active.edges) {
      const e = edgeEls.get(id);
      if (e) {
        e.g.classList.remove("active", "fwd", "bwd");
        e.line.setAttribute("marker-end", "url(#arrow)");
      }
    }
    gFlows.selectAll("*").interrupt().remove();
    active = { node: null, edges: [] };
    svg.attr("data-pos", pos).attr("data-total", total);
    svg.attr("data-phase", pos === 0 ? "start" : pos <= sched.forwardCount ? "forward" : "backward");
    if (pos === 0 || pos === total) {
      svg.attr("data-active-edges", "");
      svg.attr("data-active-node", "");
      return;
    }
    const step = sched.steps[pos - 1];
    const dir = step.phase === "forward" ? "fwd" : "bwd";
    active = { node: step.node, edges: step.edges };
    nodeEls.get(step.node)?.g.classList.add("active", dir);
    for (const id of active.edges) {
      const e = edgeEls.get(id);
      if (!e) continue;
      e.g.classList.add("active", dir);
      e.line.setAttribute("marker-end", `url(#arrow-${dir})`);
      if (animate && !reducedMotion) flow(e, dir);
    }
    svg.attr("data-active-edges", step.edges.join(" "));
    svg.attr("data-active-node", step.node);
  }

  // A coloured stroke grows along the edge (forward: source to target; backward: the reverse)
  // and a dot carries the number.
  function flow(e, dir) {
    const p = gFlows.append("path").attr("class", `edge-flow ${dir}`).attr("d", e.geo.d);
    const node = p.node();
    const L = node.getTotalLength();
    const dur = Math.max(120, stepMs * 0.8);
    p.attr("stroke-dasharray", `${L} ${L}`)
      .attr("stroke-dashoffset", dir === "fwd" ? L : -L)
      .transition().duration(dur).ease(d3.easeCubicInOut)
      .attr("stroke-dashoffset", 0)
      .transition().duration(250).style("opacity", 0).remove();
    const dot = gFlows.append("circle").attr("class", `flow-dot ${dir}`).attr("r", 4.5);
    dot.transition().duration(dur).ease(d3.easeCubicInOut)
      .attrTween("transform", () => (t) => {
        const q = node.getPointAtLength(dir === "fwd" ? t * L : (1 - t) * L);
        return `translate(${q.x},${q.y})`;
      })
      .transition().duration(150).style("opacity", 0).remove();
  }

  function setSelected(id) {
    for (const el of nodeEls.values()) el.g.classList.remove("selected");
    if (id !== null && id !== undefined) nodeEls.get(id)?.g.classList.add("selected");
  }

  return {
    render,
    updateValues,
    setPos: (p, animate = false) => applyPos(p, animate),
    fit,
    zoomBy,
    setTransform,
    getTransform: () => ({ x: transform.x, y: transform.y, k: transform.k }),
    setSelected,
    setReducedMotion: (v) => { reducedMotion = v; },
    setStepMs: (ms) => { stepMs = ms; },
    get pos() { return pos; },
    svgNode,
  };
}

/** A node's rounded box, centred on the node's origin. */
function shapeRect(g, geo, rx) {
  const rect = document.createElementNS(SVGNS, "rect");
  rect.setAttribute("class", "node-shape");
  rect.setAttribute("x", -geo.w / 2); rect.setAttribute("y", -geo.h / 2);
  rect.setAttribute("width", geo.w); rect.setAttribute("height", geo.h);
  rect.setAttribute("rx", rx);
  g.appendChild(rect);
  return rect;
}
