// The site's root: each role goes to its own home page (officer: console; supervisor: search; admin: users and
// settings), someone not logged in to the login page.
import { HOME } from "./roles.js";

fetch("/api/auth/me", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((me) => location.replace(me ? HOME[me.user.role] || "login.html" : "login.html"))
  .catch(() => location.replace("login.html"));
