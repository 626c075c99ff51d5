// The Train view's pictures, drawn with the vendored d3: line charts (loss, accuracy, weight and
// gradient norms), the 2-D data with the decision boundary, the confusion matrix, and digit
// thumbnails (canvas). Every text is set with .text()/textContent, never as HTML. View only: each
// function draws what it is given into the element it is given.
import { fmt } from "./format.js";

const d3 = globalThis.d3;

// Okabe-Ito: categorical colours that stay apart under the common colour-vision deficiencies.
export const CLASS_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#000000",
  "#999999", "#882255"];
export const classColor = (k) => CLASS_COLORS[k % CLASS_COLORS.length];
export const TRAIN_COLOR = "#2f5bea";
export const TEST_COLOR = "#7c3aed";
// weights are values (teal), gradients are gradients (red-orange), as on the circuit; layers are shades
const WEIGHT_SHADES = ["#67c5d6", "#2a9bb3", "#0e7490", "#0b5566", "#073845"];
const GRAD_SHADES = ["#f9a66c", "#ec7a35", "#c2410c", "#8f2f08", "#5e1f05"];

function frame(svgNode, m) {
  const svg = d3.select(svgNode);
  svg.selectAll("*").remove();
  const r = svgNode.getBoundingClientRect();
  const W = Math.max(160, r.width || 320), H = Math.max(100, r.height || 180);
  svg.attr("viewBox", `0 0 ${W} ${H}`);
  return { svg, W, H, m };
}

function note(svg, W, H, text, fs) {
  svg.append("text").attr("class", "chart-empty").attr("x", W / 2).attr("y", H / 2).attr("text-anchor", "middle")
    .attr("font-size", fs + 1).attr("fill", "#667085").text(text);
}

/**
 * A line chart. series: [{key, label, points: [[x, y], ...], color, dash, width, dots, line}]
 * (line: false draws dots only); opts: {xMax, xLabel, log, percent, yZero, yDomain, empty, fs (font
 * size), showLast (the last value in the legend)}. The legend wraps along the top.
 */
export function drawLines(svgNode, series, opts = {}) {
  const fs = opts.fs || 11;
  const svg0 = d3.select(svgNode);
  svg0.selectAll("*").remove();
  const rect = svgNode.getBoundingClientRect();
  const W = Math.max(160, rect.width || 320), H = Math.max(100, rect.height || 180);
  svg0.attr("viewBox", `0 0 ${W} ${H}`);
  const svg = svg0;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]) && (!opts.log || p[1] > 0));
  svgNode.dataset.points = String(pts.length);
  if (!pts.length) {
    note(svg, W, H, opts.empty || "", fs);
    return;
  }
  // the legend first (it wraps): its height is the top margin
  const left = 30 + fs * 2.4;
  let lx = left, ly = fs + 2;
  for (const s of series.filter((q) => q.label)) {
    const g = svg.append("g").attr("class", "legend-entry").attr("data-key", s.key);
    if (s.line === false) {
      g.append("circle").attr("cx", 8).attr("cy", -fs / 3).attr("r", 2.2).attr("fill", s.color);
    } else {
      g.append("line").attr("x1", 0).attr("x2", 16).attr("y1", -fs / 3).attr("y2", -fs / 3).attr("stroke", s.color)
        .attr("stroke-width", 2.5).attr("stroke-dasharray", s.dash || null);
    }
    const label = g.append("text").attr("x", 20).attr("y", 0).attr("font-size", fs).attr("fill", "#344054").text(s.label);
    const fin = s.points.filter((p) => Number.isFinite(p[1]));
    const last = fin.length ? fin[fin.length - 1][1] : null;
    if (opts.showLast && last !== null) label.text(`${s.label} ${opts.percent ? `${(last * 100).toFixed(1)}%` : fmt(last, 3)}`);
    const w = 28 + label.node().getComputedTextLength();
    if (lx > left && lx + w > W - 8) {
      lx = left;
      ly += fs + 5;
    }
    g.attr("transform", `translate(${lx},${ly})`);
    lx += w;
  }
  const m = { top: ly + fs * 0.6, right: 14, bottom: 18 + fs, left };
  const xMax = Math.max(opts.xMax || 1, d3.max(pts, (p) => p[0]));
  const x = d3.scaleLinear().domain([0, xMax]).range([m.left, W - m.right]);
  let [lo, hi] = opts.yDomain || d3.extent(pts, (p) => p[1]);
  let y;
  if (opts.log) {
    // (no nice(): it would widen to whole decades and flatten the lines)
    const span = Math.max(1.5, Math.pow(hi / lo, 0.08));
    y = d3.scaleLog().domain([lo / span, hi * span]).range([H - m.bottom, m.top]);
  } else {
    if (lo === hi) { lo -= 1; hi += 1; }
    const pad = opts.yDomain ? 0 : (hi - lo) * 0.06;
    y = d3.scaleLinear().domain([Math.min(lo - pad, opts.yZero ? 0 : Infinity), hi + pad]).nice().range([H - m.bottom, m.top]);
  }
  svg.append("g").attr("class", "axis x").attr("transform", `translate(0,${H - m.bottom})`)
    .call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(W / 80))).tickSizeOuter(0)
      .tickFormat((v) => (Number.isInteger(v) ? String(v) : "")))
    .attr("font-size", fs);
  const yAxis = d3.axisLeft(y).tickSizeOuter(0);
  if (opts.log) yAxis.ticks(4, (v) => fmt(v, 2));
  else yAxis.ticks(4).tickFormat((v) => (opts.percent ? `${Math.round(v * 100)}%` : fmt(v, 3)));
  svg.append("g").attr("class", "axis y").attr("transform", `translate(${m.left},0)`).call(yAxis).attr("font-size", fs);
  const ok = (p) => Number.isFinite(p[1]) && (!opts.log || p[1] > 0);
  const line = d3.line().defined(ok).x((p) => x(p[0])).y((p) => y(p[1]));
  for (const s of series) {
    if (!s.points.length) continue;
    if (s.line !== false) {
      svg.append("path").attr("class", `line line-${s.key}`).attr("data-key", s.key)
        .attr("data-values", JSON.stringify(s.points.map((p) => (Number.isFinite(p[1]) ? p[1] : null)))).attr("fill", "none")
        .attr("stroke", s.color).attr("stroke-width", s.width || 2).attr("stroke-dasharray", s.dash || null)
        .attr("d", line(s.points));
    }
    if (s.line === false || (s.dots !== false && s.points.length <= 60)) {
      svg.append("g").attr("class", `dots dots-${s.key}`).selectAll("circle").data(s.points.filter(ok))
        .join("circle").attr("r", s.line === false ? 1.8 : 2.2).attr("fill", s.color)
        .attr("cx", (p) => x(p[0])).attr("cy", (p) => y(p[1]));
    }
  }
  if (opts.xLabel) {
    svg.append("text").attr("x", W - m.right).attr("y", H - 3).attr("text-anchor", "end").attr("font-size", fs)
      .attr("fill", "#667085").text(opts.xLabel);
  }
}

/** Shades for a parameter list: weights teal, gradients red-orange, darker for later layers. */
export function layerShade(kind, i, n) {
  const shades = kind === "grad" ? GRAD_SHADES : WEIGHT_SHADES;
  if (n <= 1) return shades[2];
  return shades[Math.round((i / (n - 1)) * (shades.length - 1))];
}

/**
 * 2-D data: the decision boundary (boundary: {x: [lo, hi], y: [lo, hi], size, classes: rows from y
 * max down}, or null) as smoothed class regions, and the points over it (training filled, test
 * rings). points: {points, labels, test_points, test_labels}.
 */
export function drawPlane(svgNode, boundary, data, opts = {}) {
  const fs = opts.fs || 11;
  const m = { top: 8, right: 8, bottom: 8, left: 8 };
  const { svg, W, H } = frame(svgNode, m);
  const all = [...(data && data.points || []), ...(data && data.test_points || [])];
  if (!all.length && !boundary) {
    note(svg, W, H, opts.empty || "", fs);
    return;
  }
  let xd, yd;
  if (boundary) {
    xd = boundary.x;
    yd = boundary.y;
  } else {
    xd = d3.extent(all, (p) => p[0]);
    yd = d3.extent(all, (p) => p[1]);
    const px = (xd[1] - xd[0]) * 0.1 || 1, py = (yd[1] - yd[0]) * 0.1 || 1;
    xd = [xd[0] - px, xd[1] + px];
    yd = [yd[0] - py, yd[1] + py];
  }
  // equal units on both axes, centred across, at the top (the legend under it: the colour of each class)
  const legend = opts.legend && opts.legend.length ? opts.legend : null;
  const legendH = legend ? fs * 4.4 : 0;
  const iw = W - m.left - m.right, ih = Math.max(H - m.top - m.bottom - legendH, 10);
  const k = Math.min(iw / (xd[1] - xd[0]), ih / (yd[1] - yd[0]));
  const ox = m.left + (iw - k * (xd[1] - xd[0])) / 2, oy = m.top + (legend ? 0 : (ih - k * (yd[1] - yd[0])) / 2);
  const x = (v) => ox + (v - xd[0]) * k;
  const y = (v) => oy + (yd[1] - v) * k;
  svg.append("rect").attr("class", "plane-frame").attr("x", x(xd[0])).attr("y", y(yd[1]))
    .attr("width", k * (xd[1] - xd[0])).attr("height", k * (yd[1] - yd[0])).attr("fill", "#ffffff")
    .attr("stroke", "#dde3ea");
  if (boundary) {
    const n = boundary.size;
    const flat = boundary.classes.flat();
    const classes = [...new Set(flat)].sort((a, b) => a - b);
    const cell = (xd[1] - xd[0]) / (n - 1), cellY = (yd[1] - yd[0]) / (n - 1);
    // grid point (i, j) is x = lo + i * cell, y = hi - j * cellY; d3.contours puts value i at i + 0.5
    const proj = d3.geoTransform({
      point(px, py) {
        this.stream.point(x(xd[0] + (px - 0.5) * cell), y(yd[1] - (py - 0.5) * cellY));
      },
    });
    const g = svg.append("g").attr("class", "boundary").attr("data-epoch", opts.epoch ?? "");
    const clip = `pclip-${Math.random().toString(36).slice(2)}`;
    svg.append("clipPath").attr("id", clip).append("rect").attr("x", x(xd[0])).attr("y", y(yd[1]))
      .attr("width", k * (xd[1] - xd[0])).attr("height", k * (yd[1] - yd[0]));
    g.attr("clip-path", `url(#${clip})`);
    for (const c of classes) {
      // the indicator of class c, blurred by one cell: smooth edges instead of the grid's stairs
      const ind = flat.map((v) => (v === c ? 1 : 0));
      if (d3.blur2) d3.blur2({ data: ind, width: n }, 1);
      const [region] = d3.contours().size([n, n]).thresholds([0.5])(ind);
      g.append("path").attr("class", "region").attr("data-class", c).attr("d", d3.geoPath(proj)(region))
        .attr("fill", classColor(c)).attr("fill-opacity", 0.28).attr("stroke", classColor(c)).attr("stroke-opacity", 0.7)
        .attr("stroke-width", 1);
    }
  }
  const r = opts.pointRadius || 3;
  const pg = svg.append("g").attr("class", "points");
  const train = (data && data.points || []).map((p, i) => [p, data.labels[i]]);
  pg.selectAll("circle.train").data(train).join("circle").attr("class", "train")
    .attr("cx", (d) => x(d[0][0])).attr("cy", (d) => y(d[0][1])).attr("r", r)
    .attr("fill", (d) => classColor(d[1])).attr("stroke", "#1c2430").attr("stroke-width", 0.5);
  const test = (data && data.test_points || []).map((p, i) => [p, data.test_labels[i]]);
  pg.selectAll("circle.test").data(test).join("circle").attr("class", "test")
    .attr("cx", (d) => x(d[0][0])).attr("cy", (d) => y(d[0][1])).attr("r", r + 0.5)
    .attr("fill", "#ffffff").attr("stroke", (d) => classColor(d[1])).attr("stroke-width", 2);
  svgNode.dataset.points = String(train.length + test.length);
  if (legend) {
    // "colour = the class the network predicts there", then a swatch per class
    const top = oy + k * (yd[1] - yd[0]) + fs * 1.1;
    const lg = svg.append("g").attr("class", "plane-legend").attr("font-size", fs);
    // the title, on two lines when one is too narrow (words; CJK text has none: it is squeezed instead)
    const title = lg.append("text").attr("x", ox).attr("y", top + fs * 0.4).attr("fill", "#475467");
    const room = W - ox - 4;
    const words = String(opts.legendTitle || "").split(" ");
    let line = title.append("tspan").attr("x", ox).text(words[0]);
    let lines = 1;
    for (const w of words.slice(1)) {
      const before = line.text();
      line.text(`${before} ${w}`);
      if (line.node().getComputedTextLength() > room && lines < 2) {
        line.text(before);
        line = title.append("tspan").attr("x", ox).attr("dy", fs * 1.2).text(w);
        lines += 1;
      }
    }
    title.selectAll("tspan").each(function () {
      if (this.getComputedTextLength() > room) d3.select(this).attr("textLength", room).attr("lengthAdjust", "spacingAndGlyphs");
    });
    let lx = ox;
    const ly = top + fs * (lines === 2 ? 2.7 : 1.5);
    legend.forEach((name, c) => {
      const item = lg.append("g").attr("class", "legend-entry").attr("data-class", c);
      item.append("rect").attr("x", lx).attr("y", ly - fs * 0.45).attr("width", fs * 1.4).attr("height", fs * 0.9)
        .attr("rx", 2).attr("fill", classColor(c)).attr("fill-opacity", 0.28).attr("stroke", classColor(c));
      const label = item.append("text").attr("x", lx + fs * 1.8).attr("y", ly).attr("dy", "0.35em").attr("fill", "#1c2430")
        .text(String(name));
      lx += fs * 1.8 + label.node().getComputedTextLength() + fs * 1.2;
    });
  }
}

/** The confusion matrix: rows the true class, columns the predicted one; the diagonal in teal. */
export function drawConfusion(svgNode, matrix, labels, opts = {}) {
  const fs = opts.fs || 11;
  const m = { top: fs * 2.6, right: 6, bottom: 6, left: fs * 3.4 };
  const { svg, W, H } = frame(svgNode, m);
  if (!matrix || !matrix.length) {
    note(svg, W, H, opts.empty || "", fs);
    return;
  }
  const k = matrix.length;
  const size = Math.min((W - m.left - m.right) / k, (H - m.top - m.bottom) / k);
  const x0 = m.left + (W - m.left - m.right - size * k) / 2, y0 = m.top;
  const rowSums = matrix.map((r) => d3.sum(r) || 1);
  const cells = [];
  matrix.forEach((row, i) => row.forEach((v, j) => cells.push({ i, j, v, f: v / rowSums[i] })));
  const g = svg.append("g").attr("class", "confusion");
  g.selectAll("rect").data(cells).join("rect").attr("class", "cm-cell").attr("data-row", (d) => d.i)
    .attr("data-col", (d) => d.j).attr("data-count", (d) => d.v)
    .attr("x", (d) => x0 + d.j * size).attr("y", (d) => y0 + d.i * size).attr("width", size - 1).attr("height", size - 1)
    .attr("fill", (d) => (d.v === 0 ? "#f6f8fb" : d.i === d.j ? d3.interpolateRgb("#d9f0f4", "#0e7490")(d.f)
      : d3.interpolateRgb("#fde8da", "#c2410c")(Math.min(1, d.f * 3))));
  if (size >= 13) {
    const fc = Math.min(fs, size * 0.55);
    g.selectAll("text.cm-n").data(cells.filter((d) => d.v)).join("text").attr("class", "cm-n")
      .attr("x", (d) => x0 + (d.j + 0.5) * size).attr("y", (d) => y0 + (d.i + 0.5) * size + fc * 0.35)
      .attr("text-anchor", "middle").attr("font-size", fc)
      .attr("fill", (d) => (d.i === d.j && d.f > 0.5 ? "#ffffff" : "#1c2430")).text((d) => d.v);
  }
  const lab = (i) => String(labels && labels[i] !== undefined ? labels[i] : i);
  const fsl = Math.min(fs, size * 0.8);
  for (let i = 0; i < k; i++) {
    svg.append("text").attr("x", x0 - 4).attr("y", y0 + (i + 0.5) * size + fsl * 0.35).attr("text-anchor", "end")
      .attr("font-size", fsl).attr("fill", "#475467").text(lab(i));
    svg.append("text").attr("x", x0 + (i + 0.5) * size).attr("y", y0 - 4).attr("text-anchor", "middle")
      .attr("font-size", fsl).attr("fill", "#475467").text(lab(i));
  }
  if (opts.rowsLabel) {
    svg.append("text").attr("x", 2).attr("y", y0 - 4).attr("font-size", fs * 0.9).attr("fill", "#667085").text(opts.rowsLabel);
  }
  if (opts.colsLabel) {
    svg.append("text").attr("x", x0 + (k * size) / 2).attr("y", fs).attr("text-anchor", "middle").attr("font-size", fs * 0.9)
      .attr("fill", "#667085").text(opts.colsLabel);
  }
}

/** One grey-scale image (rows of pixels, any range) into a canvas of `px` pixels a side. */
export function paintImage(canvas, rows, px) {
  const h = rows.length, w = rows[0].length;
  canvas.width = w;
  canvas.height = h;
  canvas.style.width = `${px}px`;
  canvas.style.height = `${Math.round((px * h) / w)}px`;
  const flat = rows.flat();
  const lo = Math.min(0, ...flat), hi = Math.max(1e-12, ...flat);
  const c = canvas.getContext("2d");
  const img = c.createImageData(w, h);
  flat.forEach((v, i) => {
    const g = 255 - Math.round((255 * (v - lo)) / (hi - lo)); // ink dark on white
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  });
  c.putImageData(img, 0, 0);
}

/** Rows of pixels from a flat pixel row and a [h, w] shape. */
export function toRows(flat, shape) {
  if (Array.isArray(flat[0])) return flat;
  const [h, w] = shape;
  return Array.from({ length: h }, (_, i) => flat.slice(i * w, (i + 1) * w));
}
