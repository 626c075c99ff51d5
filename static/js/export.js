// Export the annotated circuit as SVG or PNG, and the evaluation as JSON.
import { SIZES } from "./layout.js";

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

// A standalone SVG document of the whole circuit with every value and gradient shown.
export async function circuitSvgString(svgNode, layout, doc) {
  const clone = svgNode.cloneNode(true);
  clone.removeAttribute("id");
  clone.removeAttribute("style");
  clone.setAttribute("class", "circuit-export");
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const out = layout.nodes[doc.output_id];
  const right = out ? Math.max(layout.width, out.x + out.w / 2 + SIZES.stub + 30) : layout.width;
  const x0 = -30, y0 = -34, w = right + 40, h = layout.height + 68;
  clone.setAttribute("viewBox", `${x0} ${y0} ${w} ${h}`);
  clone.setAttribute("width", String(Math.ceil(w)));
  clone.setAttribute("height", String(Math.ceil(h)));
  for (const a of ["data-pos", "data-total", "data-phase", "data-active-edges", "data-active-node", "role", "aria-label"]) {
    clone.removeAttribute(a);
  }
  clone.querySelector(".viewport")?.removeAttribute("transform");
  clone.querySelector(".flows")?.replaceChildren();
  const bg = clone.querySelector(".circuit-bg");
  if (bg) {
    bg.setAttribute("x", x0); bg.setAttribute("y", y0);
    bg.setAttribute("width", w); bg.setAttribute("height", h);
  }
  for (const e of clone.querySelectorAll(".edge, .node")) {
    e.classList.add("v-on", "g-on");
    e.classList.remove("active", "fwd", "bwd", "selected");
  }
  for (const p of clone.querySelectorAll(".edge-line")) p.setAttribute("marker-end", "url(#arrow)");
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = (await css()).replace(/#circuit/g, "svg.circuit-export")
    + "\n.edge-value,.edge-grad,.node-fork{transition:none}";
  clone.insertBefore(style, clone.firstChild);
  const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = `Backprop Lab: ${doc.output} = ${doc.value}`;
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

export async function exportSvg(svgNode, layout, doc) {
  const { text } = await circuitSvgString(svgNode, layout, doc);
  download(new Blob([text], { type: "image/svg+xml" }), "circuit.svg");
}

export async function exportPng(svgNode, layout, doc, scale = 2) {
  const { text, w, h } = await circuitSvgString(svgNode, layout, doc);
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("could not rasterise the SVG"));
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

// The evaluation document with non-finite numbers encoded the way the contract does.
export function evaluationJson(doc, program) {
  const replacer = (k, v) => (typeof v === "number" && !Number.isFinite(v)
    ? (Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity") : v);
  return JSON.stringify({ program, ...doc }, replacer, 2);
}

export function exportJson(doc, program) {
  download(new Blob([evaluationJson(doc, program)], { type: "application/json" }), "evaluation.json");
}
