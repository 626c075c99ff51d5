// Small d3 charts: the sweep (f along one input with the tangent line) and the optimizer's
// output per step.
import { fmt } from "./format.js";

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
  svg.append("path").attr("class", "sweep-line").attr("fill", "none").attr("stroke", "#15803d").attr("stroke-width", 2)
    .attr("d", d3.line().defined((p) => Number.isFinite(p[1])).x((p) => x(p[0])).y((p) => y(p[1]))(pts));
  if (Number.isFinite(f0) && Number.isFinite(slope)) {
    const [xa, xb] = x.domain();
    const clip = `clip-${Math.random().toString(36).slice(2)}`;
    svg.append("clipPath").attr("id", clip).append("rect")
      .attr("x", M.left).attr("y", M.top).attr("width", W - M.left - M.right).attr("height", H - M.top - M.bottom);
    svg.append("line").attr("class", "tangent").attr("clip-path", `url(#${clip})`)
      .attr("stroke", "#c81e1e").attr("stroke-width", 1.6).attr("stroke-dasharray", "5 3")
      .attr("x1", x(xa)).attr("y1", y(f0 + slope * (xa - x0)))
      .attr("x2", x(xb)).attr("y2", y(f0 + slope * (xb - x0)));
    svg.append("circle").attr("class", "current").attr("r", 4.5).attr("fill", "#1c2430")
      .attr("cx", x(x0)).attr("cy", y(f0));
  }
  svg.append("text").attr("x", W - M.right).attr("y", H - 3).attr("text-anchor", "end")
    .attr("font-size", 11).attr("fill", "#667085").text(varName);
  svg.append("text").attr("x", M.left + 4).attr("y", M.top + 10).attr("font-size", 11).attr("fill", "#667085")
    .text(`${outName}   tangent slope ${fmt(slope, 4)}`);
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
    .attr("font-size", 11).attr("fill", "#667085").text("step");
  svg.append("text").attr("x", M.left + 4).attr("y", M.top + 10).attr("font-size", 11).attr("fill", "#667085")
    .text(outName);
}
