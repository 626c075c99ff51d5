// Export the annotated circuit as SVG or PNG, and the evaluation as JSON.
import { SIZES } from "./layout.js";
import { t } from "./strings.js";

let circuitCss = null;
async function css() {
  if (circuitCss === null) {
    try {
      circuitCss = await (await fetch("/static/css/circuit.css")).text();
    } catch {
      circuitCss = "";
    }
  }
  return circuitCss;
}

// A standalone SVG document of the circuit as it is at the current animation step: labels not yet
// revealed are left out, so an export of step 3 shows what step 3 shows. (For big graphs: the
// part of the circuit the page has drawn in SVG, i.e. the nodes in view.)
export async function circuitSvgString(svgNode, layout, doc, step = {}) {
  const clone = svgNode.cloneNode(true);
  clone.removeAttribute("id");
  clone.removeAttribute("style");
  clone.removeAttribute("tabindex");
  clone.setAttribute("class", "circuit-export");
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const b = step.bounds || { x0: -30, y0: -34, x1: layout.width + SIZES.stub + 40, y1: layout.height + 34 };
  const x0 = b.x0 - 10, y0 = b.y0 - 10, w = b.x1 - b.x0 + 20, h = b.y1 - b.y0 + 20;
  clone.setAttribute("viewBox", `${x0} ${y0} ${w} ${h}`);
  clone.setAttribute("width", String(Math.ceil(w)));
  clone.setAttribute("height", String(Math.ceil(h)));
  for (const a of [...clone.attributes]) if (a.name.startsWith("data-")) clone.removeAttribute(a.name);
  for (const a of ["role", "aria-label"]) clone.removeAttribute(a);
  clone.querySelector(".viewport")?.removeAttribute("transform");
  clone.querySelector(".flows")?.replaceChildren();
  for (const e of clone.querySelectorAll("[tabindex]")) e.removeAttribute("tabindex");
  const bg = clone.querySelector(".circuit-bg");
  if (bg) {
    bg.setAttribute("x", x0); bg.setAttribute("y", y0);
    bg.setAttribute("width", w); bg.setAttribute("height", h);
    bg.setAttribute("fill", "#ffffff");
  }
  // what the current step has not revealed yet is not in the export
  for (const e of clone.querySelectorAll(".edge")) {
    if (!e.classList.contains("v-on")) e.querySelectorAll(".edge-value, .leader-v").forEach((x) => x.remove());
    if (!e.classList.contains("g-on")) e.querySelectorAll(".edge-grad, .grad-pill, .leader-g").forEach((x) => x.remove());
  }
  for (const n of clone.querySelectorAll(".node")) {
    if (!n.classList.contains("g-on")) n.querySelectorAll(".node-fork, .leader-f").forEach((x) => x.remove());
  }
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = (await css()).replace(/#circuit/g, "svg.circuit-export")
    + "\n.edge-value,.edge-grad,.node-fork,.grad-pill{transition:none}";
  clone.insertBefore(style, clone.firstChild);
  const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  const total = step.total ?? 0, pos = step.pos ?? total;
  title.textContent = t("export.title", { output: doc.output, value: doc.value })
    + (pos < total ? t("export.step_suffix", { pos, total }) : "");
  clone.insertBefore(title, clone.firstChild);
  return { text: '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(clone), w, h };
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

export async function exportSvg(svgNode, layout, doc, step = {}) {
  const { text } = await circuitSvgString(svgNode, layout, doc, step);
  download(new Blob([text], { type: "image/svg+xml" }), "circuit.svg");
}

export async function exportPng(svgNode, layout, doc, step = {}, scale = 2) {
  const { text, w, h } = await circuitSvgString(svgNode, layout, doc, step);
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error(t("error.rasterise")));
      img.src = url;
    });
    const maxSide = 8000;
    const s = Math.min(scale, maxSide / w, maxSide / h);
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(w * s);
    canvas.height = Math.ceil(h * s);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    download(blob, "circuit.png");
  } finally {
    URL.revokeObjectURL(url);
  }
}

// The evaluation document with non-finite numbers encoded the way the contract does, and where the
// animation stands ("animation": position, phase, the step's node, and which nodes' values and
// gradients it has revealed).
export function evaluationJson(doc, program, step = {}) {
  const replacer = (k, v) => (typeof v === "number" && !Number.isFinite(v)
    ? (Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity") : v);
  const { program: _p, ...rest } = doc;
  const out = { program, ...rest };
  const sched = step.schedule;
  if (sched) {
    const total = sched.steps.length, pos = Math.min(step.pos ?? total, total);
    const cur = pos > 0 ? sched.steps[pos - 1] : null;
    out.animation = {
      pos, total, unit: step.unit || "gate",
      phase: pos === 0 ? "start" : pos === total ? "done" : cur.phase,
      node: cur && pos < total ? cur.node : null,
      caption: cur && pos < total ? cur.text : null,
      values_shown: doc.nodes.filter((n) => sched.fwdStep[n.id] < pos && !(doc.hidden && doc.hidden.value.has(n.id))).map((n) => n.id),
      gradients_shown: doc.nodes.filter((n) => sched.bwdStep[n.id] < pos && !(doc.hidden && doc.hidden.grad.has(n.id))).map((n) => n.id),
    };
  }
  // quiz mode: the document is the masked one (hidden numbers are null); say which they are
  if (doc.hidden) out.quiz_hidden = { values: [...doc.hidden.value].sort((a, b) => a - b), gradients: [...doc.hidden.grad].sort((a, b) => a - b) };
  return JSON.stringify(out, replacer, 2);
}

export function exportJson(doc, program, step = {}) {
  download(new Blob([evaluationJson(doc, program, step)], { type: "application/json" }), "evaluation.json");
}
