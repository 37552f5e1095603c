// The login page: user name and password -> a session cookie (HttpOnly) plus the xunlu_csrf cookie that
// pages send back in X-CSRF-Token; then on to ?next= (a page of this site only), else the user's home page.
import { applyText, lang, t, toggleLang } from "./i18n.js";
import { landing } from "./roles.js";

const $ = (id) => document.getElementById(id);
// Only a path on this site: "/x" or "x.html?..."; never "//host", "https://...", "javascript:".
export function safeNext(value) {
  if (!value) return null;
  let url;
  try { url = new URL(value, location.href); } catch { return null; }
  if (url.origin !== location.origin || url.pathname.endsWith("/login.html")) return null;
  return url.pathname + url.search + url.hash;
}

function fail(message) {
  $("login-error").textContent = message;
  $("login-error").hidden = false;
}

async function submit(e) {
  e.preventDefault();
  $("login-error").hidden = true;
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) { fail(t("login.missing")); return; }
  $("login-go").disabled = true;
  try {
    const res = await fetch("/api/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept-Language": lang() === "en" ? "en" : "zh-CN" },
      body: JSON.stringify({ username, password, cookie: true }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      // the server's words in the page's language (wrong password, disabled, wait N seconds), else ours
      fail(typeof body.message === "string" ? body.message
        : res.status === 401 ? t("login.wrong") : t("err.http", { status: res.status }));
      $("password").value = "";
      $("password").focus();
      return;
    }
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    location.replace(landing(body.user && body.user.role, next));
  } catch {
    fail(t("err.network"));
  } finally {
    $("login-go").disabled = false;
  }
}

applyText();
$("lang").addEventListener("click", toggleLang);
$("login-form").addEventListener("submit", submit);
