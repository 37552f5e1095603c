// The administrator's home: users (add, disable, reset a password, change a role, confirm a grant), interview
// rooms and their devices, the audit trail, the integrity check and the centre's time zone. One tab each
// (#users, #rooms, #audit, #verify, #centre); every change goes through the API, which audits it.
import { initAudit, initVerify } from "./admin-audit.js";
import { api, centre, el, header, localTime, showError, toast } from "./common.js";
import { applyText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const ROLES = ["officer", "supervisor", "admin"];
const TABS = ["users", "rooms", "audit", "verify", "centre"];
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
  if (!loaded.has(tab)) {
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

// -- rooms -----------------------------------------------------------------------------------------------
function editRoom(r) {
  $("room-original").value = r ? r.name : "";
  $("room-name").value = r ? r.name : "";
  $("room-audio").value = (r && r.audio) || "";
  $("room-video").value = (r && r.video) || "";
  $("room-speakers").value = (r && r.speakers) || "";
  $("room-name").focus();
}

function roomRow(r) {
  return el("tr", { "data-room": r.name },
    el("td", { text: r.name }), el("td", { text: r.audio || "" }), el("td", { text: r.video || "" }),
    el("td", { text: r.speakers || "" }),
    el("td", { class: "actions" },
      el("button", { class: "small edit", text: t("pl.edit"), onclick: () => editRoom(r) }),
      el("button", { class: "small remove", text: t("adm.remove"), onclick: () => removeRoom(r.name) })));
}

async function loadRooms() {
  try {
    const answer = await api("/api/admin/rooms");
    const options = (list) => list.map((s) => el("option", { value: s.id, label: s.label }));
    $("room-audio-sources").replaceChildren(...options(answer.audio));
    $("room-video-sources").replaceChildren(...options(answer.video));
    $("room-rows").replaceChildren(...answer.rooms.map(roomRow));
  } catch (err) { showError(err); }
}

async function saveRoom(event) {
  event.preventDefault();
  const original = $("room-original").value;
  const name = $("room-name").value.trim();
  const json = { audio: $("room-audio").value.trim() || null, video: $("room-video").value.trim() || null,
                 speakers: $("room-speakers").value.trim() || null };
  if (original && original !== name) json.rename = name;
  try {
    await api(`/api/admin/rooms/${encodeURIComponent(original || name)}`, { method: "PUT", json });
    toast(t("adm.rooms.saved", { room: name }));
    editRoom(null);
    await loadRooms();
  } catch (err) { showError(err); }
}

async function removeRoom(name) {
  if (!confirm(t("adm.rooms.confirmRemove", { room: name }))) return;
  try {
    await api(`/api/admin/rooms/${encodeURIComponent(name)}`, { method: "DELETE" });
    await loadRooms();
  } catch (err) { showError(err); }
}

// -- cameras on the network (ONVIF, WS-Discovery): a click fills the room's camera ---------------------------
function withLogin(uri) {  // the user name and password typed above, into the address (never sent back masked)
  const user = $("camera-user").value.trim();
  const m = uri.match(/^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/]*@)?(.*)$/i);
  if (!user || !m) return uri;
  return `${m[1]}${encodeURIComponent(user)}:${encodeURIComponent($("camera-password").value)}@${m[2]}`;
}

function cameraItem(c) {
  const title = [c.name, c.hardware, c.host].filter(Boolean).join(" · ");
  const streams = c.streams.length ? c.streams : [{ profile: t("adm.cams.guess"), uri: c.guess }];
  const note = c.needs_login ? t("adm.cams.login") : (c.streams.length ? null : t("adm.cams.noStream"));
  return el("li", { "data-camera": c.host },
    el("strong", { text: title }), note ? el("span", { class: "muted", text: ` ${note}` }) : null,
    ...streams.map((s) => el("button", { type: "button", class: "small use-camera", "data-uri": s.uri,
      text: `${s.profile}: ${s.uri}`,
      onclick: () => { $("room-video").value = withLogin(s.uri); $("room-video").focus(); } })));
}

async function findCameras() {
  $("camera-find").disabled = true;
  $("camera-list").replaceChildren(el("li", { class: "muted", text: t("adm.cams.searching") }));
  try {
    const json = { timeout: 2, username: $("camera-user").value.trim() || null,
                   password: $("camera-password").value || null };
    const answer = await api("/api/admin/cameras", { method: "POST", json });
    $("camera-list").replaceChildren(...(answer.cameras.length ? answer.cameras.map(cameraItem)
      : [el("li", { class: "muted", text: t("adm.cams.none") })]));
  } catch (err) { $("camera-list").replaceChildren(); showError(err); }
  finally { $("camera-find").disabled = false; }
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

const LOAD = { users: loadUsers, rooms: loadRooms, audit: initAudit, verify: initVerify, centre: loadCentre };

header("admin.html");
applyText();
$("new-role").replaceChildren(...ROLES.map((r) => el("option", { value: r, text: roleName(r) })));
document.addEventListener("xunlu:lang", () => {
  $("new-role").querySelectorAll("option").forEach((o) => { o.textContent = roleName(o.value); });
  loaded.clear();
  showTab();
});
$("user-form").addEventListener("submit", addUser);
$("room-form").addEventListener("submit", saveRoom);
$("room-new").addEventListener("click", () => editRoom(null));
$("camera-find").addEventListener("click", findCameras);
$("centre-form").addEventListener("submit", saveCentre);
window.addEventListener("hashchange", showTab);
fetch("/api/auth/me").then((r) => (r.ok ? r.json() : null)).then((m) => { me = m; }).catch(() => {}).finally(showTab);
