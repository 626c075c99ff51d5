// Web Worker: runs Graphviz (viz.js, WebAssembly) off the main thread.
// Message in:  {key, structure}      Message out: {key, layout, ms} or {key, error}
import { instance } from "../vendor/viz/viz.js";
import { buildDot, parseLayout } from "./layout.js";

const vizReady = instance();
const cache = new Map();

self.onmessage = async (ev) => {
  const { key, structure } = ev.data;
  try {
    if (cache.has(key)) {
      self.postMessage({ key, layout: cache.get(key), ms: 0, cached: true });
      return;
    }
    const viz = await vizReady;
    const t0 = performance.now();
    const dot = buildDot(structure);
    const result = viz.render(dot, { format: "json0" });
    if (result.status !== "success") {
      const msg = (result.errors || []).map((e) => e.message).join("; ") || "layout failed";
      throw new Error(msg);
    }
    const layout = parseLayout(JSON.parse(result.output), structure);
    const ms = performance.now() - t0;
    if (cache.size > 50) cache.delete(cache.keys().next().value);
    cache.set(key, layout);
    self.postMessage({ key, layout, ms });
  } catch (err) {
    self.postMessage({ key, error: String(err && err.message ? err.message : err) });
  }
};
