// Shared helpers: the API, the header with navigation and the language toggle, formatting.
import { applyText, t, toggleLang } from "./i18n.js";

// Navigation. Optional pages (written by other parts of xunlu) appear only when the server has them.
export const NAV = [
  { href: "console.html", key: "nav.console" },
  { href: "search.html", key: "nav.search" },
  { href: "warnings.html", key: "nav.warnings", perm: "warnings" },
  { href: "/docs", key: "nav.docs" },
];

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

export async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  const method = (options.method || "GET").toUpperCase();
  const csrf = cookie("xunlu_csrf");  // set at login; every unsafe request carries it back
  if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method)) init.headers["X-CSRF-Token"] = csrf;
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  const res = await fetch(path, init);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (res.status === 401) loginAgain();
  if (!res.ok) throw new ApiError(res.status, (body && body.detail) || `${res.status} ${res.statusText}`);
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

export function localTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(document.documentElement.lang);
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
    el("a", { class: "brand", href: "console.html" }, el("b", { text: "讯录" }), " xunlu"),
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
