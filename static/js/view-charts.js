// Small d3 charts: the sweep (f along one input with the tangent line), the optimizer's output per
// step, and the contour plot of a two-input program with the optimizer's path.
import { fmt } from "./format.js";
import { t } from "./strings.js";

// The page's value and gradient colours (circuit.css --value / --grad), chosen to stay apart
// under protanopia and deuteranopia (docs/page.md).
export const VALUE_COLOR = "#0e7490";
export const GRAD_COLOR = "#c2410c";

const d3 = globalThis.d3;
const M = { top: 10, right: 16, bottom: 24, left: 46 };

function frame(svgNode) {
  const svg = d3.select(svgNode);
  svg.selectAll("*").remove();
  const r = svgNode.getBoundingClientRect();
  const W = Math.max(120, r.width || 300), H = Math.max(80, r.height || 150);
  svg.attr("viewBox", `0 0 ${W} ${H}`);
  return { svg, W, H, iw: W - M.left - M.right, ih: H - M.top - M.bottom };
}

function axes(svg, x, y, H, W) {
  svg.append("g").attr("class", "axis x").attr("transform", `translate(0,${H - M.bottom})`)
    .call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(W / 70))).tickSizeOuter(0));
  svg.append("g").attr("class", "axis y").attr("transform", `translate(${M.left},0)`)
    .call(d3.axisLeft(y).ticks(4).tickFormat((v) => fmt(v, 3)).tickSizeOuter(0));
}

function extent(vals) {
  const fin = vals.filter(Number.isFinite);
  if (!fin.length) return [-1, 1];
  let [a, b] = d3.extent(fin);
  if (a === b) { a -= 1; b += 1; }
  return [a, b];
}

export function drawSweep(svgNode, data, x0, f0, slope, varName, outName) {
  const { svg, W, H } = frame(svgNode);
  const x = d3.scaleLinear().domain(d3.extent(data.xs)).range([M.left, W - M.right]);
  const [lo, hi] = extent(data.ys);
  const pad = (hi - lo) * 0.08;
  const y = d3.scaleLinear().domain([lo - pad, hi + pad]).nice().range([H - M.bottom, M.top]);
  axes(svg, x, y, H, W);
  const pts = data.xs.map((xv, i) => [xv, data.ys[i]]);
  svg.append("path").attr("class", "sweep-line").attr("fill", "none").attr("stroke", VALUE_COLOR).attr("stroke-width", 2)
    .attr("d", d3.line().defined((p) => Number.isFinite(p[1])).x((p) => x(p[0])).y((p) => y(p[1]))(pts));
  if (Number.isFinite(f0) && typeof slope === "number" && Number.isFinite(slope)) {
    const [xa, xb] = x.domain();
    const clip = `clip-${Math.random().toString(36).slice(2)}`;
    svg.append("clipPath").attr("id", clip).append("rect")
      .attr("x", M.left).attr("y", M.top).attr("width", W - M.left - M.right).attr("height", H - M.top - M.bottom);
    svg.append("line").attr("class", "tangent").attr("clip-path", `url(#${clip})`)
      .attr("stroke", GRAD_COLOR).attr("stroke-width", 1.6).attr("stroke-dasharray", "5 3")
      .attr("x1", x(xa)).attr("y1", y(f0 + slope * (xa - x0)))
      .attr("x2", x(xb)).attr("y2", y(f0 + slope * (xb - x0)));
  }
  if (Number.isFinite(f0)) {
    svg.append("circle").attr("class", "current").attr("r", 4.5).attr("fill", "#1c2430")
      .attr("cx", x(x0)).attr("cy", y(f0));
  }
  svg.append("text").attr("x", W - M.right).attr("y", H - 3).attr("text-anchor", "end")
    .attr("font-size", 11).attr("fill", "#667085").text(varName);
  svg.append("text").attr("x", M.left + 4).attr("y", M.top + 10).attr("font-size", 11).attr("fill", "#667085")
    .text(t("sweep.tangent_slope", { output: outName, slope: fmt(slope, 4) }));
}

export function drawTrajectory(svgNode, values, totalSteps, outName) {
  const { svg, W, H } = frame(svgNode);
  if (!values.length) {
    svg.append("text").attr("x", W / 2).attr("y", H / 2).attr("text-anchor", "middle")
      .attr("font-size", 12).attr("fill", "#667085").text(outName);
    return;
  }
  const x = d3.scaleLinear().domain([0, Math.max(1, totalSteps)]).range([M.left, W - M.right]);
  const [lo, hi] = extent(values);
  const pad = (hi - lo) * 0.08;
  const y = d3.scaleLinear().domain([lo - pad, hi + pad]).nice().range([H - M.bottom, M.top]);
  axes(svg, x, y, H, W);
  svg.append("path").attr("fill", "none").attr("stroke", "#2f5bea").attr("stroke-width", 2)
    .attr("d", d3.line().defined((v) => Number.isFinite(v)).x((_, i) => x(i)).y((v) => y(v))(values));
  if (values.length) {
    svg.append("circle").attr("r", 3.5).attr("fill", "#2f5bea")
      .attr("cx", x(values.length - 1)).attr("cy", y(values[values.length - 1]));
  }
  svg.append("text").attr("x", W - M.right).attr("y", H - 3).attr("text-anchor", "end")
    .attr("font-size", 11).attr("fill", "#667085").text(t("optimize.chart_x"));
  svg.append("text").attr("x", M.left + 4).attr("y", M.top + 10).attr("font-size", 11).attr("fill", "#667085")
    .text(outName);
}

// Contour plot: filled bands of f over (x, y) on a nx x ny grid (row j is y = y0 + j dy), the
// current point, and the optimizer's path as a line of dots ending in an arrow.
export function drawContour(svgNode, c, path, cur, outName) {
  const { svg, W, H } = frame(svgNode);
  const { domain, grid, nx, ny, vars } = c;
  const x = d3.scaleLinear().domain([domain.x0, domain.x1]).range([M.left, W - M.right]);
  const y = d3.scaleLinear().domain([domain.y0, domain.y1]).range([H - M.bottom, M.top]);
  axes(svg, x, y, H, W);
  const values = grid.map((v) => (Number.isFinite(v) ? v : NaN));
  const fin = values.filter(Number.isFinite);
  svgNode.dataset.grid = `${nx}x${ny}`;
  svgNode.dataset.x = vars[0];
  svgNode.dataset.y = vars[1];
  svgNode.dataset.points = String(path.length);
  if (!fin.length) return;
  const [lo, hi] = d3.extent(fin);
  svgNode.dataset.range = `${lo},${hi}`;
  svgNode.dataset.domain = [domain.x0, domain.x1, domain.y0, domain.y1].join(",");
  if (path.length) svgNode.dataset.last = path[path.length - 1].join(",");
  else delete svgNode.dataset.last;
  // bands of equal area (quantiles), so a surface that is flat almost everywhere still shows its shape
  const sorted = fin.slice().sort((a, b) => a - b);
  const thresholds = lo === hi ? [lo]
    : [...new Set([lo, ...d3.range(1, 12).map((i) => d3.quantileSorted(sorted, i / 12))])];
  const bands = d3.contours().size([nx, ny]).thresholds(thresholds)(values.map((v) => (Number.isFinite(v) ? v : lo)));
  const color = d3.scaleSequential(d3.interpolateRgb("#f7f5fb", "#5b4a8b")).domain([lo, hi]);
  const sx = (W - M.left - M.right) / (nx - 1), sy = (H - M.top - M.bottom) / (ny - 1);
  const proj = d3.geoTransform({
    point(px, py) {
      this.stream.point(M.left + (px - 0.5) * sx, H - M.bottom - (py - 0.5) * sy);
    },
  });
  const clip = `cclip-${Math.random().toString(36).slice(2)}`;
  svg.append("clipPath").attr("id", clip).append("rect")
    .attr("x", M.left).attr("y", M.top).attr("width", W - M.left - M.right).attr("height", H - M.top - M.bottom);
  svg.append("g").attr("class", "contour-bands").attr("clip-path", `url(#${clip})`)
    .selectAll("path").data(bands).join("path")
    .attr("d", d3.geoPath(proj)).attr("fill", (d) => color(d.value)).attr("stroke", "#ffffff").attr("stroke-opacity", 0.5)
    .attr("stroke-width", 0.6);
  const g = svg.append("g").attr("clip-path", `url(#${clip})`);
  if (path.length) {
    g.append("path").attr("class", "contour-path").attr("fill", "none").attr("stroke", "#111827").attr("stroke-width", 2)
      .attr("d", d3.line().x((p) => x(p[0])).y((p) => y(p[1]))(path));
    const every = Math.max(1, Math.floor(path.length / 25));
    g.selectAll("circle.step").data(path.filter((_, i) => i % every === 0)).join("circle").attr("class", "step")
      .attr("r", 2.2).attr("fill", "#111827").attr("cx", (p) => x(p[0])).attr("cy", (p) => y(p[1]));
  }
  if (cur && cur.every(Number.isFinite)) {
    g.append("circle").attr("class", "contour-current").attr("r", 5).attr("fill", "#ffffff").attr("stroke", "#111827")
      .attr("stroke-width", 2).attr("cx", x(cur[0])).attr("cy", y(cur[1]));
  }
  svg.append("text").attr("x", W - M.right).attr("y", H - 3).attr("text-anchor", "end")
    .attr("font-size", 11).attr("fill", "#667085").text(vars[0]);
  svg.append("text").attr("x", M.left + 4).attr("y", M.top + 10).attr("font-size", 11).attr("fill", "#667085")
    .text(`${vars[1]} ↑   ${outName}: ${fmt(lo, 3)} … ${fmt(hi, 3)}`);
}
