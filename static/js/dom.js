// Small DOM helpers shared by the HTML views (no state, no strings).

// el("button", { class: "x", testid: "room-start", title: "…" }, "text"): an element with its
// attributes (`class` sets className, `testid` sets data-testid) and its text (as text, never HTML).
export function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "testid") e.dataset.testid = v;
    else e.setAttribute(k, v);
  }
  if (text !== null) e.textContent = text;
  return e;
}
