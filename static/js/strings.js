// Every word the page shows comes from the message catalogues static/i18n/<lang>.json (one flat
// object {"area.name": "text with {placeholders}"}; docs/lessons.md, "UI string catalogues";
// tests/lessons/test_i18n.py keeps en and zh in step). loadStrings(lang) fetches English (the
// fallback for a missing key) and the chosen language before the page draws anything; t(key, vars)
// fills the placeholders; applyStrings(root) fills the template's static text from its data-i18n /
// data-i18n-title / data-i18n-aria keys (data-i18n-args: JSON of placeholder values).
// No DOM at import time: schedule.js imports this, and so does code that runs in tests.

export const LANGUAGES = ["en", "zh"];
const CATALOGUES = {};
let lang = "en";

async function fetchCatalogue(code) {
  const res = await fetch(`/static/i18n/${code}.json`);
  if (!res.ok) throw new Error(`no catalogue for ${code} (HTTP ${res.status})`);
  return res.json();
}

// Load English and `code` (unknown codes fall back to English); returns the language in use.
export async function loadStrings(code = "en") {
  if (!CATALOGUES.en) CATALOGUES.en = await fetchCatalogue("en");
  if (code && code !== "en" && LANGUAGES.includes(code) && !CATALOGUES[code]) {
    try {
      CATALOGUES[code] = await fetchCatalogue(code);
    } catch (err) {
      console.error(err);
    }
  }
  return setLang(code);
}

// The browser's preferred language among ours (navigator.languages: zh, zh-CN, zh-Hans-CN... -> zh).
export function browserLanguage(langs = globalThis.navigator ? navigator.languages || [navigator.language] : []) {
  for (const l of langs || []) {
    const code = String(l || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(code)) return code;
  }
  return "en";
}

// Add or extend a catalogue at run time (a test, or a translation being tried out).
export function registerCatalogue(code, strings) {
  CATALOGUES[code] = { ...(CATALOGUES[code] || {}), ...strings };
}

// Switch to a loaded language (else keep the current one); returns the language in use.
export function setLang(code) {
  if (code && CATALOGUES[code]) lang = code;
  return lang;
}
export function getLang() {
  return lang;
}
export function keys() {
  return Object.keys(CATALOGUES.en || {});
}

const lookup = (key) => (CATALOGUES[lang] && CATALOGUES[lang][key]) ?? (CATALOGUES.en && CATALOGUES.en[key]);
const RULES = {};

// The plural form of `key` for a numeric vars.count: "<key>_<category>" by the language's plural rules
// (Intl.PluralRules: English "one" for 1, "other" otherwise; Chinese always "other"), when the
// catalogue has it ("circuit.group_badge_one": "{count} node"), else `key` itself.
export function pluralKey(key, count) {
  if (typeof count !== "number" || !Number.isFinite(count)) return key;
  let cat = "other";
  try {
    RULES[lang] = RULES[lang] || new Intl.PluralRules(lang === "zh" ? "zh-Hans" : lang);
    cat = RULES[lang].select(count);
  } catch {
    cat = count === 1 ? "one" : "other";
  }
  const k = `${key}_${cat}`;
  return lookup(k) !== undefined ? k : key;
}

// The string for `key` with {placeholders} filled from `vars` (the key itself when it is missing
// everywhere, so a missing string is visible rather than blank). A numeric vars.count picks the
// key's plural form (pluralKey).
export function t(key, vars = null) {
  if (vars && typeof vars.count === "number") key = pluralKey(key, vars.count);
  const s = lookup(key) ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

// Fill the template's static text from the catalogue.
export function applyStrings(root) {
  const args = (el) => {
    try {
      if (!el.dataset.i18nArgs) return null;
      // a value "@key" is itself looked up ({"space": "@footer.space"})
      const a = JSON.parse(el.dataset.i18nArgs);
      for (const k of Object.keys(a)) if (typeof a[k] === "string" && a[k].startsWith("@")) a[k] = t(a[k].slice(1));
      return a;
    } catch {
      return null;
    }
  };
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n, args(el));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle, args(el));
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria, args(el)));
  if (root.documentElement) {
    root.documentElement.lang = lang === "zh" ? "zh-Hans" : lang;
    root.title = t("page.title");
  }
}
