// The administrator's home: users (add, disable, reset a password, change a role, confirm a grant), interview
// rooms and their cameras (admin-rooms.js), the background jobs (admin-jobs.js), the audit trail, the integrity
// check and the centre's time zone. One tab each (#users, #rooms, #jobs, #audit, #verify, #centre); every
// change goes through the API, which audits it.
import { initAudit, initVerify } from "./admin-audit.js";
import { loadJobs } from "./admin-jobs.js";
import { initRooms, loadRooms } from "./admin-rooms.js";
import { api, centre, el, header, localTime, showError, toast } from "./common.js";
import { applyText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const ROLES = ["officer", "supervisor", "admin"];
const TABS = ["users", "rooms", "jobs", "audit", "verify", "centre"];
const ALWAYS = new Set(["jobs"]);   // read again each time the tab is shown
const loaded = new Set();
let me = null;

const roleName = (role) => t(`role.${role}`);

// -- tabs ------------------------------------------------------------------------------------------------
function showTab() {
  const wanted = location.hash.slice(1);
  const tab = TABS.includes(wanted) ? wanted : "users";
  for (const name of TABS) {
    $(`tab-${name}`).hidden = name !== tab;
    document.querySelector(`[data-tab='${name}']`).classList.toggle("active", name === tab);
  }
  if (!loaded.has(tab) || ALWAYS.has(tab)) {
    loaded.add(tab);
    LOAD[tab]();
  }
}

// -- users -----------------------------------------------------------------------------------------------
function showSecret(user, password) {
  if (!password) return;
  $("secret").textContent = t("adm.users.secret", { user: user.username, password });
  $("secret").hidden = false;
}

async function act(path, json, done) {
  try {
    const answer = await api(path, { method: "POST", json: json || {} });
    if (done) toast(done);
    if (answer && answer.password) showSecret(answer.user, answer.password);
    await loadUsers();
    return answer;
  } catch (err) { showError(err); return null; }
}

function stateOf(u) {
  if (u.disabled) return t("adm.users.disabled");
  if (u.locked_until && u.locked_until * 1000 > Date.now()) return t("adm.users.locked");
  if (u.pending_role) return t("adm.users.pending", { role: roleName(u.pending_role) });
  return t("adm.users.active");
}

function userRow(u) {
  const name = encodeURIComponent(u.username);
  const role = el("select", { class: "role", "aria-label": t("adm.users.role") },
    ...ROLES.map((r) => el("option", { value: r, text: roleName(r), selected: (u.pending_role || u.role) === r })));
  const own = me && me.user.username.toLowerCase() === u.username.toLowerCase();
  const buttons = [
    u.disabled
      ? el("button", { class: "small enable", text: t("adm.users.enable"), onclick: () => act(`/api/users/${name}/enable`, null, t("adm.done")) })
      : el("button", { class: "small disable", text: t("adm.users.disable"), disabled: own,
        onclick: () => confirm(t("adm.users.confirmDisable", { user: u.username })) && act(`/api/users/${name}/disable`, null, t("adm.done")) }),
    el("button", { class: "small reset", text: t("adm.users.reset"),
      onclick: () => confirm(t("adm.users.confirmReset", { user: u.username })) && act(`/api/users/${name}/password`, {}, t("adm.done")) }),
    role,
    el("button", { class: "small set-role", text: t("adm.users.setRole"),
      onclick: () => act(`/api/users/${name}/role`, { role: role.value }, t("adm.users.roleAsked")) }),
  ];
  if (u.locked_until && u.locked_until * 1000 > Date.now()) {
    buttons.push(el("button", { class: "small unlock", text: t("adm.users.unlock"), onclick: () => act(`/api/users/${name}/unlock`, null, t("adm.done")) }));
  }
  if (u.pending_role && !own && !(u.pending_by || []).includes(me && me.user && `web:${me.user.username}`)) {
    buttons.push(el("button", { class: "small confirm", text: t("adm.users.confirm"),
      onclick: () => act(`/api/grants/${name}/confirm`, { role: u.pending_role }, t("adm.done")) }));
  }
  return el("tr", { "data-user": u.username, class: u.disabled ? "disabled" : null },
    el("td", { text: u.username }), el("td", { text: u.display_name || "" }),
    el("td", { text: u.pending_role ? t("adm.users.pending", { role: roleName(u.pending_role) }) : roleName(u.role) }),
    el("td", { class: "state", text: stateOf(u) }),
    el("td", { class: "muted", text: localTime(u.last_login) }),
    el("td", { class: "actions" }, ...buttons));
}

async function loadUsers() {
  try {
    const users = await api("/api/users");
    $("user-rows").replaceChildren(...users.map(userRow));
    $("audit-users").replaceChildren(...users.map((u) => el("option", { value: u.username, label: u.display_name || u.username })));
  } catch (err) { showError(err); }
}

async function addUser(event) {
  event.preventDefault();
  const json = { username: $("new-username").value.trim(), role: $("new-role").value,
                 display_name: $("new-display").value.trim() || null, password: $("new-password").value || null };
  try {
    const answer = await api("/api/users", { method: "POST", json });
    $("user-form").reset();
    toast(t("adm.users.added", { user: answer.user.username }));
    showSecret(answer.user, answer.password);
    await loadUsers();
  } catch (err) { showError(err); }
}

// -- the centre's time zone ------------------------------------------------------------------------------
function showCentre(c) {
  $("centre-zone").value = c.timezone;
  $("centre-now").textContent = t("adm.centre.now", { zone: c.timezone, offset: c.utc_offset,
    now: new Date().toLocaleString(document.documentElement.lang, { timeZone: c.timezone }) });
}

async function loadCentre() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["Asia/Shanghai", "UTC"];
  $("zones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  try { showCentre(await api("/api/centre")); } catch (err) { showError(err); }
}

async function saveCentre(event) {
  event.preventDefault();
  try {
    const c = await api("/api/admin/centre", { method: "PUT", json: { timezone: $("centre-zone").value.trim() } });
    if (centre) Object.assign(centre, c);  // this page's times follow at once
    showCentre(c);
    toast(t("adm.centre.saved", { zone: c.timezone }));
  } catch (err) { showError(err); }
}

const LOAD = { users: loadUsers, rooms: loadRooms, jobs: loadJobs, audit: initAudit, verify: initVerify, centre: loadCentre };

header("admin.html");
applyText();
$("new-role").replaceChildren(...ROLES.map((r) => el("option", { value: r, text: roleName(r) })));
document.addEventListener("xunlu:lang", () => {
  $("new-role").querySelectorAll("option").forEach((o) => { o.textContent = roleName(o.value); });
  loaded.clear();
  showTab();
});
$("user-form").addEventListener("submit", addUser);
initRooms();
$("centre-form").addEventListener("submit", saveCentre);
window.addEventListener("hashchange", showTab);
fetch("/api/auth/me").then((r) => (r.ok ? r.json() : null)).then((m) => { me = m; }).catch(() => {}).finally(showTab);
