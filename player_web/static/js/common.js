// Shared helpers: the API, the header with navigation and the language toggle, formatting.
import { applyText, lang, t, toggleLang } from "./i18n.js";

// Navigation: each page is shown to the roles that work in it (a permission of /api/auth/me).
export const NAV = [
  { href: "console.html", key: "nav.console", perm: "record" },
  { href: "search.html", key: "nav.search", perm: "search" },
  { href: "warnings.html", key: "nav.warnings", perm: "warnings" },
  { href: "admin.html", key: "nav.admin", perm: "admin" },
  { href: "/docs", key: "nav.docs", perm: "admin" },
];

// An error answer of the API: {"detail", "code", "message"}. `message` is in the page's language (the request
// says which in Accept-Language) and is what a page shows; `code` is stable; `detail` is the operator's text.
export class ApiError extends Error {
  constructor(status, message, code = null, detail = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

// What the server's error answer says, in the page's language (its own words when it has none).
export function errorOf(status, body) {
  if (body && typeof body === "object" && body.message) return new ApiError(status, body.message, body.code, body.detail);
  const code = body && body.code;
  return new ApiError(status, t(status === 401 ? "err.login" : "err.http", { status }), code || null,
    (body && body.detail) || (typeof body === "string" ? body.slice(0, 200) : null));
}

// The language the server answers in (Accept-Language): the page's.
export function acceptLanguage() { return lang() === "en" ? "en" : "zh-CN"; }

// The centre's time zone (config.toml [centre]): every time on every page is shown on the centre's clock,
// whatever the browser's own zone. Asked once, before the page's script runs.
export const centre = await fetch("/api/centre", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null)).catch(() => null);

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

export async function api(path, options = {}) {
  const init = { ...options, headers: { "Accept-Language": acceptLanguage(), ...(options.headers || {}) } };
  const method = (options.method || "GET").toUpperCase();
  const csrf = cookie("xunlu_csrf");  // set at login; every unsafe request carries it back
  if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method)) init.headers["X-CSRF-Token"] = csrf;
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, t("err.network"), "network", String(err));
  }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json().catch(() => null) : await res.text();
  if (res.status === 401) loginAgain();
  if (!res.ok) throw errorOf(res.status, body);
  return body;
}

let redirecting = false;
export function loginAgain() {  // to the login page, then back here
  if (redirecting || location.pathname.endsWith("login.html")) return;
  redirecting = true;
  location.href = `login.html?next=${encodeURIComponent(location.pathname + location.search)}`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function speakerName(name, channel) {
  if (!name) return `ch${channel ?? 0}`;
  const key = `spk.${name.toLowerCase()}`;
  const label = t(key);
  return label === key ? name : label;
}

// A time on the centre's clock, e.g. 2026/11/21 08:32:05 (a page set to English: 11/21/2026, 8:32:05 AM). A
// time written without a zone (a search hit's day) is already the centre's wall-clock time: shown as it is.
const NAIVE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;
export function localTime(iso, options = {}) {
  if (!iso) return "";
  const naive = NAIVE.test(iso);
  const d = new Date(naive ? `${iso.length === 10 ? `${iso}T00:00:00` : iso}Z` : iso);
  if (isNaN(d)) return iso;
  const zone = naive ? "UTC" : centre && centre.timezone;
  try {
    return d.toLocaleString(document.documentElement.lang, { ...(zone ? { timeZone: zone } : {}), ...options });
  } catch {  // a zone this browser does not know: its own
    return d.toLocaleString(document.documentElement.lang, options);
  }
}

// A search snippet: HTML from the API whose text is escaped and whose only tags are the index's <mark>s.
// It becomes text nodes and <mark> elements; nothing in it is ever parsed as markup.
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'" };
const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#x27);/g, (e) => ENTITIES[e]);
export function markedSnippet(snippet) {
  const frag = document.createDocumentFragment();
  const parts = String(snippet).split(/(<mark>|<\/mark>)/);
  let inMark = false;
  for (const p of parts) {
    if (p === "<mark>") { inMark = true; continue; }
    if (p === "</mark>") { inMark = false; continue; }
    if (p) frag.append(inMark ? el("mark", { text: unescape(p) }) : document.createTextNode(unescape(p)));
  }
  return frag;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toast") || document.body.appendChild(el("div", { id: "toast" }));
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", text: message });
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 3500);
}

export function showError(err) {
  toast(`${t("err")}: ${err.message || err}`, "error");
}

export function header(active) {
  const nav = el("nav", { class: "nav" });
  for (const item of NAV) {
    const a = el("a", { href: item.href, "data-i18n": item.key, class: item.href === active ? "active" : null });
    if (item.perm) {  // shown once /api/auth/me says the user may use it
      a.hidden = true;
      a.dataset.perm = item.perm;
    }
    nav.append(a);
  }
  const who = el("span", { class: "who", id: "who" });
  const bar = el("header", { class: "top" },
    el("a", { class: "brand", href: "/" }, el("b", { text: "讯录" }), " xunlu"),
    nav,
    el("span", { class: "spacer" }),
    who,
    el("button", { id: "lang", class: "ghost", "data-i18n": "lang.toggle", onclick: toggleLang }));
  document.body.prepend(bar);
  applyText();
  showUser(who);
}

// The logged-in user and their permissions, asked once per page.
let me = null;
export function currentUser() {
  me = me || fetch("/api/auth/me", { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  return me;
}

// Elements marked data-perm="audit" (a permission of /api/auth/me) are shown only to users who have it.
export function applyPerms(root = document) {
  return currentUser().then((u) => root.querySelectorAll("[data-perm]").forEach((node) => {
    node.hidden = !(u && u.permissions && u.permissions[node.dataset.perm]);
  }));
}

// Who is logged in (when the server has logins), with a way out.
function showUser(slot) {
  fetch("/api/auth/me").then((r) => {
    if (r.status === 401) loginAgain();
    return r.ok ? r.json() : null;
  }).then((me) => {
    if (!me) return;
    const u = me.user;
    document.querySelectorAll("header.top nav a[data-perm]").forEach((a) => {
      a.hidden = !(me.permissions && me.permissions[a.dataset.perm]);
    });
    slot.replaceChildren(el("span", { class: "user", text: u.display_name || u.username, title: `${u.username} · ${u.role}` }),
      el("button", { class: "ghost", id: "logout", "data-i18n": "nav.logout", text: t("nav.logout"), onclick: async () => {
        try { await api("/api/auth/logout", { method: "POST" }); } catch (err) { showError(err); return; }
        slot.replaceChildren();
        loginAgain();
      } }));
  }).catch(() => {});
}
