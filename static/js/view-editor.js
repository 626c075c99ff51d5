// The program editor: a textarea with a line-number gutter and an error caret drawn under the
// character at the line/column the API reports.
import { t } from "./strings.js";

const LINE_H = 20, PAD_X = 10, PAD_Y = 8;

// error_type.<type> from the catalogue, with the error's ctx (names, limit) filled in; null if unknown.
function typeText(error) {
  if (!error.type) return null;
  const key = `error_type.${error.type}`;
  const c = error.ctx || {};
  const vars = {
    names: Array.isArray(c.names) ? c.names.join(", ") : c.names ?? "",
    limit: c.limit ? (t(`limit.${c.limit}`) !== `limit.${c.limit}` ? t(`limit.${c.limit}`) : c.limit) : "",
    limit_value: c.limit_value ?? "",
  };
  const s = t(key, vars);
  return s === key ? null : s;
}

export function createEditor({ textarea, gutter, overlay, errorBox, onChange }) {
  let error = null;
  let charW = null;

  function measure() {
    const probe = document.createElement("span");
    probe.textContent = "M".repeat(40);
    probe.style.position = "absolute";
    probe.style.visibility = "hidden";
    probe.style.whiteSpace = "pre";
    probe.style.font = getComputedStyle(textarea).font;
    document.body.appendChild(probe);
    const w = probe.getBoundingClientRect().width / 40;
    probe.remove();
    return w || 8.4;
  }

  // Line numbers as three text runs (before, the error line, after): a 20,000-line program costs
  // one text node, not 20,000 elements.
  let shownLines = -1, shownErr = -2;
  function renderGutter() {
    const text = textarea.value; // (the getter copies the text: read it once)
    let n = 1;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
    const errLine = error && error.line ? error.line : -1;
    if (n !== shownLines || errLine !== shownErr) {
      shownLines = n;
      shownErr = errLine;
      const nums = (a, b) => Array.from({ length: Math.max(0, b - a + 1) }, (_, k) => a + k).join("\n");
      const parts = [];
      if (errLine >= 1 && errLine <= n) {
        if (errLine > 1) parts.push(document.createTextNode(nums(1, errLine - 1) + "\n"));
        const e = document.createElement("span");
        e.className = "err";
        e.textContent = String(errLine);
        parts.push(e);
        if (errLine < n) parts.push(document.createTextNode("\n" + nums(errLine + 1, n)));
      } else parts.push(document.createTextNode(nums(1, n)));
      gutter.replaceChildren(...parts);
    }
    // reading textarea.scrollTop forces the textarea's layout at once (hundreds of ms for a 20,000-line
    // program): sync in the next frame, when that layout happens anyway
    if (!syncing) {
      syncing = true;
      requestAnimationFrame(() => {
        syncing = false;
        gutter.scrollTop = textarea.scrollTop;
      });
    }
  }
  let syncing = false;

  function renderOverlay() {
    overlay.replaceChildren();
    if (!error || !error.line || !error.column) return;
    if (charW === null) charW = measure();
    const left = PAD_X + (error.column - 1) * charW - textarea.scrollLeft;
    const top = PAD_Y + (error.line - 1) * LINE_H - textarea.scrollTop;
    const mark = document.createElement("div");
    mark.className = "error-mark";
    mark.style.left = `${left}px`;
    mark.style.top = `${top}px`;
    mark.style.width = `${charW}px`;
    const caret = document.createElement("div");
    caret.className = "error-caret";
    caret.dataset.testid = "error-caret";
    caret.dataset.line = String(error.line);
    caret.dataset.column = String(error.column);
    caret.style.left = `${left + charW / 2 - 6}px`;
    caret.style.top = `${top + LINE_H - 3}px`;
    overlay.append(mark, caret);
  }

  function renderErrorBox() {
    if (!error) {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      return;
    }
    errorBox.hidden = false;
    const head = document.createElement("div");
    const where = error.line ? t("editor.where", { line: error.line, column: error.column }) : "";
    // the API's stable error type in the page's language; its message (English) under it
    const typed = typeText(error);
    head.textContent = `${where}${typed ?? error.msg}`;
    head.dataset.testid = "error-message";
    if (error.type) head.dataset.type = error.type;
    errorBox.replaceChildren(head);
    if (typed && error.msg) {
      const detail = document.createElement("div");
      detail.className = "error-detail";
      detail.lang = "en";
      detail.dataset.testid = "error-detail";
      detail.textContent = error.msg;
      errorBox.appendChild(detail);
    }
    if (error.source_line !== undefined && error.source_line !== null) {
      const pre = document.createElement("pre");
      pre.textContent = `${error.source_line}\n${error.caret ?? " ".repeat(Math.max(0, error.column - 1)) + "^"}`;
      errorBox.appendChild(pre);
    }
    if (error.kept) {
      const k = document.createElement("span");
      k.className = "kept";
      k.textContent = t("editor.last_good");
      errorBox.appendChild(k);
    }
  }

  textarea.addEventListener("input", () => {
    renderGutter();
    onChange(textarea.value);
  });
  textarea.addEventListener("scroll", () => {
    gutter.scrollTop = textarea.scrollTop;
    renderOverlay();
  });
  return {
    setText(text) {
      textarea.value = text;
      renderGutter();
      renderOverlay();
    },
    getText: () => textarea.value,
    showError(err) {
      error = err;
      renderGutter();
      renderOverlay();
      renderErrorBox();
    },
  };
}
