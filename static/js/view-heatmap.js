// A tensor node's card on the circuit: header (name or gate symbol, shape), a heatmap of the value
// and one of the gradient (SVG rects, diverging colour scale), or min/mean/max lines for a
// summarized tensor; and the hover tooltip that reads the numbers under the pointer. View only.
import { fmt, fmtFull, isHidden } from "./format.js";
import { t } from "./strings.js";
import { at, blockValues, cardGeom, fmtShape, HEAT, heatColor, isSummary, shapeText, stats } from "./tensor.js";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function heatmap(parent, kind, x0, y0, hm, nodeId) {
  const g = svgEl("g", { class: `hm hm-${kind}`, "data-testid": `heatmap-${kind}`, "data-node-id": nodeId,
    "data-rows": hm.R, "data-cols": hm.C, "data-cells": hm.dr * hm.dc }, parent);
  const cells = [];
  for (let i = 0; i < hm.dr; i++) {
    for (let j = 0; j < hm.dc; j++) {
      cells.push(svgEl("rect", { class: "hm-cell", x: x0 + j * hm.cell, y: y0 + i * hm.cell,
        width: hm.cell, height: hm.cell, fill: "#f1f5f9" }, g));
    }
  }
  svgEl("rect", { class: "hm-frame", x: x0 - 0.5, y: y0 - 0.5, width: hm.w + 1, height: hm.h + 1, rx: 1.5 }, g);
  const hit = svgEl("rect", { class: "hm-hit", x: x0, y: y0, width: hm.w, height: hm.h, "data-kind": kind }, g);
  return { g, cells, hit };
}

// Build the card inside the node's <g> (already translated to the node's centre).
export function buildCard(g, n, geo, title) {
  const spec = { shape: n.shape, op: n.op, summary: isSummary(n.value), header: `${title}  ${shapeText(n.shape)}` };
  const cg = cardGeom(spec);
  const w = geo.w, h = geo.h;
  svgEl("rect", { class: "node-shape", x: -w / 2, y: -h / 2, width: w, height: h, rx: 8 }, g);
  const t = svgEl("text", { class: "card-title", x: -w / 2 + HEAT.pad, y: -h / 2 + 13 }, g);
  t.textContent = title;
  const s = svgEl("text", { class: "card-shape", x: w / 2 - HEAT.pad, y: -h / 2 + 13, "data-testid": "node-shape" }, g);
  s.textContent = shapeText(n.shape);
  const card = { spec, geo: cg, value: null, grad: null, lines: null };
  const top = -h / 2 + HEAT.header;
  if (cg.summary) {
    const lv = svgEl("text", { class: "card-stat v", x: -w / 2 + HEAT.pad, y: top + 11 }, g);
    const lg = cg.twin ? svgEl("text", { class: "card-stat g", x: -w / 2 + HEAT.pad, y: top + 26 }, g) : null;
    card.lines = { value: lv, grad: lg };
    return card;
  }
  const hm = cg.hm;
  const bodyW = cg.twin ? 2 * hm.w + HEAT.gap : hm.w;
  const x0 = -bodyW / 2;
  card.value = heatmap(g, "value", x0, top, hm, n.id);
  if (cg.twin) card.grad = heatmap(g, "grad", x0 + hm.w + HEAT.gap, top, hm, n.id);
  return card;
}

function summaryLine(label, v) {
  if (v === null || v === undefined) return "";
  if (isHidden(v)) return `${label} ?`;
  const s = stats(v);
  return t("heatmap.stats", { label, min: fmt(s.min, 3), mean: fmt(s.mean, 3), max: fmt(s.max, 3) });
}

// Colour the cells from the node's value and gradient (each on its own symmetric scale).
export function paintCard(card, n) {
  if (card.lines) {
    card.lines.value.textContent = summaryLine("v", n.value);
    if (card.lines.grad) card.lines.grad.textContent = summaryLine("∂", n.grad);
    return;
  }
  const hm = card.geo.hm;
  const paint = (part, v) => {
    if (!part) return;
    part.g.classList.toggle("hm-hidden", isHidden(v)); // quiz mode: grey until revealed
    if (isHidden(v)) {
      part.cells.forEach((c) => c.setAttribute("fill", "#f1f5f9"));
      part.g.removeAttribute("data-absmax");
      return;
    }
    const vals = blockValues(v, n.shape, hm);
    const m = stats(v).absmax;
    part.cells.forEach((c, k) => c.setAttribute("fill", v === null || v === undefined ? "#f1f5f9" : heatColor(vals[k], m)));
    part.g.setAttribute("data-absmax", String(m));
  };
  paint(card.value, n.value);
  paint(card.grad, n.grad);
}

// Tooltip: the element under the pointer, its value and (once the backward pass reached it) its
// gradient. `tip` is an absolutely positioned HTML element over the circuit.
export function bindTooltip(svgNode, tip, { nodeOf, nameOf, gradShown, outputName }) {
  if (!tip) return;
  const wrap = tip.parentElement;
  function hide() {
    tip.hidden = true;
  }
  svgNode.addEventListener("pointermove", (ev) => {
    const hit = ev.target;
    if (!hit.classList || !hit.classList.contains("hm-hit")) {
      if (!tip.hidden) hide();
      return;
    }
    const id = Number(hit.parentNode.dataset.nodeId);
    const n = nodeOf(id);
    if (!n) return hide();
    const b = hit.getBoundingClientRect();
    const rows = Number(hit.parentNode.dataset.rows), cols = Number(hit.parentNode.dataset.cols);
    const r = Math.min(rows - 1, Math.max(0, Math.floor(((ev.clientY - b.top) / b.height) * rows)));
    const c = Math.min(cols - 1, Math.max(0, Math.floor(((ev.clientX - b.left) / b.width) * cols)));
    const idx = n.shape.length === 1 ? `[${c}]` : `[${r}, ${c}]`;
    const hiddenGrad = isHidden(n.grad);
    const grad = n.grad === null || n.grad === undefined || hiddenGrad ? null : at(n.grad, n.shape, r, c);
    const value = isHidden(n.value) ? null : at(n.value, n.shape, r, c);
    const head = document.createElement("div");
    head.className = "tip-head";
    head.textContent = `${nameOf(id)}${idx}  ·  ${fmtShape(n.shape)}`;
    const lv = document.createElement("div");
    lv.className = "tip-v";
    lv.dataset.testid = "tip-value";
    if (value !== null) lv.dataset.value = String(value);
    lv.textContent = t("heatmap.value", { value: value === null ? "?" : fmtFull(value) });
    const lg = document.createElement("div");
    lg.className = "tip-g";
    lg.dataset.testid = "tip-grad";
    if (hiddenGrad) lg.textContent = t("heatmap.grad_pending");
    else if (grad === null) lg.textContent = t("heatmap.constant");
    else if (gradShown(id)) {
      lg.dataset.value = String(grad);
      lg.textContent = `∂${outputName()}/∂· ${fmtFull(grad)}`;
    } else lg.textContent = t("heatmap.grad_pending");
    tip.replaceChildren(head, lv, lg);
    tip.dataset.row = String(r);
    tip.dataset.col = String(c);
    tip.dataset.nodeId = String(id);
    tip.hidden = false;
    const wr = wrap.getBoundingClientRect();
    const x = ev.clientX - wr.left + 14, y = ev.clientY - wr.top + 14;
    tip.style.left = `${Math.min(x, wr.width - tip.offsetWidth - 6)}px`;
    tip.style.top = `${Math.min(y, wr.height - tip.offsetHeight - 6)}px`;
  });
  svgNode.addEventListener("pointerleave", hide);
}
