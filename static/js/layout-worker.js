// Web Worker: lays out the drawn graph off the main thread.
// Message in:  {key, structure, engine: "dot" | "fast"}
// Message out: {key, packed, ms, engine} (packLayout: typed arrays, transferred) or {key, error}
// Graphviz (viz.js, WebAssembly) for graphs where it is fast; the near-linear layered layout
// (layout-fast.js) for big ones. The page decides which (layoutEngineFor) and gives Graphviz a
// deadline: past it, the page terminates this worker and asks a fresh one for "fast".
import { buildDot, packLayout, parseLayout } from "./layout.js";
import { fastLayout, wrapBands } from "./layout-fast.js";

// Start compiling Graphviz at once (in parallel with the page's first requests), except in the
// fallback worker made for a big graph ("?fast"), which may never need it.
const loadViz = () => import("../vendor/viz/viz.js").then((m) => m.instance());
let vizReady = self.location.search.includes("fast") ? null : loadViz();

self.onmessage = async (ev) => {
  const { key, structure, engine } = ev.data;
  try {
    const t0 = performance.now();
    let layout;
    if (engine === "dot") {
      if (!vizReady) vizReady = loadViz();
      const viz = await vizReady;
      const result = viz.render(buildDot(structure), { format: "json0" });
      if (result.status !== "success") {
        const msg = (result.errors || []).map((e) => e.message).join("; ") || "layout failed";
        throw new Error(msg);
      }
      layout = parseLayout(JSON.parse(result.output), structure);
    } else {
      layout = fastLayout(structure);
    }
    layout = wrapBands(layout, structure);
    const ms = performance.now() - t0;
    const { transfer, ...packed } = packLayout(layout, structure);
    self.postMessage({ key, packed, ms, engine }, transfer);
  } catch (err) {
    self.postMessage({ key, error: String(err && err.message ? err.message : err) });
  }
};
