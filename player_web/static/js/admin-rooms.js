// The administrator's interview rooms: microphone, speakers, the RTSP transport, and the room's cameras: one
// (the room's video source) or several (a list of rows, each a name, an address, its own RTSP transport and
// picture delay), with the picture-in-picture layout of several. Camera addresses come back from the server
// with their passwords masked (rtsp://admin:***@…): sent back unchanged they keep the stored password.
// The ONVIF finder adds a picked stream as a camera row (another stream of the same camera replaces its row).
import { api, el, showError, toast } from "./common.js";
import { applyText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const TRANSPORTS = ["auto", "tcp", "udp", "udp_multicast"];
const POSITIONS = ["top-left", "top-right", "bottom-left", "bottom-right"];
const PIP_DEFAULT = { position: "top-right", size: 0.3, margin: 0.03 };
export const MAX_CAMERAS = 4;
let editing = null;   // the room being edited, as the server listed it (null: a new room)

const option = (value, key, selected) => el("option", { value, "data-i18n": key, text: t(key), selected });
const field = (key, input, extra) => el("label", { class: extra ? "camera-extra" : null },
  el("span", { "data-i18n": key, text: t(key) }), input);
const rows = () => [...$("room-cameras").querySelectorAll(".camera-row")];
const nameOf = (row, i) => row.querySelector(".camera-name").value.trim() || `camera${i + 1}`;

// -- the camera rows -----------------------------------------------------------------------------------------
function cameraRow(cam = {}) {
  const transport = el("select", { class: "camera-transport" }, option("", "adm.rooms.camera.asRoom", !cam.rtsp_transport),
    ...TRANSPORTS.map((x) => option(x, `adm.rooms.transport.${x}`, cam.rtsp_transport === x)));
  const row = el("div", { class: "camera-row", "data-from": cam.from || null },
    field("adm.rooms.camera.name", el("input", { class: "camera-name", maxlength: 32, value: cam.name || "",
      oninput: () => pipChoices() }), true),
    field("adm.rooms.camera.url", el("input", { class: "camera-url", list: "room-video-sources", maxlength: 500,
      value: cam.video || "", "data-i18n-ph": "adm.rooms.video.ph", placeholder: t("adm.rooms.video.ph") })),
    field("adm.rooms.camera.transport", transport, true),
    field("adm.rooms.camera.delay", el("input", { class: "camera-delay", type: "number", min: -5, max: 5, step: 0.01,
      value: cam.video_delay ?? "" }), true),
    el("button", { type: "button", class: "small ghost camera-remove", "data-i18n": "adm.rooms.camera.remove",
      text: t("adm.rooms.camera.remove"), onclick: () => { row.remove(); if (!rows().length) addCamera(); arrange(); } }));
  return row;
}

// After any change of the rows: the first address is the room's video (#room-video), per-camera settings and
// the picture-in-picture show only with several cameras, at most MAX_CAMERAS rows.
function arrange() {
  const all = rows();
  all.forEach((row, i) => {
    const url = row.querySelector(".camera-url");
    if (i === 0) url.id = "room-video"; else url.removeAttribute("id");
    row.querySelector(".camera-name").placeholder = `camera${i + 1}`;
    row.dataset.index = String(i);
  });
  $("room-cameras").classList.toggle("single", all.length < 2);
  $("camera-add").disabled = all.length >= MAX_CAMERAS;
  $("room-pip").hidden = all.length < 2;
  pipChoices();
}

function addCamera(cam) {
  if (rows().length >= MAX_CAMERAS) return null;
  const row = cameraRow(cam);
  $("room-cameras").append(row);
  arrange();
  return row;
}

function setCameras(list) {
  $("room-cameras").replaceChildren(...(list.length ? list : [{}]).map(cameraRow));
  arrange();
}

// -- the picture-in-picture ----------------------------------------------------------------------------------
function pipChoices() {
  const names = rows().map(nameOf);
  for (const id of ["pip-main", "pip-inset"]) {
    const select = $(id);
    const chosen = select.value || select.dataset.wanted || "";
    select.replaceChildren(option("", `adm.rooms.pip.${id === "pip-main" ? "first" : "second"}`, !chosen),
      ...names.map((n) => el("option", { value: n, text: n, selected: n === chosen })));
    if (chosen && !names.includes(chosen)) select.value = "";
    delete select.dataset.wanted;
  }
}

function setPip(pip) {
  const p = { ...PIP_DEFAULT, ...(pip || {}) };
  $("pip-main").dataset.wanted = p.main || "";
  $("pip-inset").dataset.wanted = p.inset || "";
  $("pip-main").value = "";
  $("pip-inset").value = "";
  $("pip-position").value = p.position;
  $("pip-size").value = p.size;
  $("pip-margin").value = p.margin;
}

function pipOf() {
  const number = (id) => ($(id).value === "" ? null : Number($(id).value));
  return { main: $("pip-main").value || null, inset: $("pip-inset").value || null,
           position: $("pip-position").value, size: number("pip-size"), margin: number("pip-margin") };
}

// -- the form and the list -----------------------------------------------------------------------------------
export function editRoom(r, focus = true) {
  editing = r || null;
  $("room-original").value = r ? r.name : "";
  $("room-name").value = r ? r.name : "";
  $("room-audio").value = (r && r.audio) || "";
  $("room-speakers").value = (r && r.speakers) || "";
  const cams = r && r.cameras && r.cameras.length ? r.cameras : (r && r.video ? [{ video: r.video }] : []);
  // one camera kept as a list in config.toml: its own transport is the room's
  $("room-transport").value = (r && (r.rtsp_transport || (cams.length === 1 && cams[0].rtsp_transport))) || "auto";
  setPip(r && r.pip);
  setCameras(cams.map((c) => ({ ...c })));
  if (focus) $("room-name").focus();
}

function cameraCell(r) {
  if (!r.cameras || !r.cameras.length) return r.video || "";
  return r.cameras.map((c) => `${c.name}: ${c.video}`).join("\n");
}

function roomRow(r) {
  return el("tr", { "data-room": r.name },
    el("td", { text: r.name }), el("td", { text: r.audio || "" }),
    el("td", { class: "cameras", text: cameraCell(r) }),
    el("td", { text: r.speakers || "" }),
    el("td", { class: "actions" },
      el("button", { class: "small edit", text: t("pl.edit"), onclick: () => editRoom(r) }),
      el("button", { class: "small remove", text: t("adm.remove"), onclick: () => removeRoom(r.name) })));
}

export async function loadRooms() {
  try {
    const answer = await api("/api/admin/rooms");
    const options = (list) => list.map((s) => el("option", { value: s.id, label: s.label }));
    $("room-audio-sources").replaceChildren(...options(answer.audio));
    $("room-video-sources").replaceChildren(...options(answer.video));
    $("room-rows").replaceChildren(...answer.rooms.map(roomRow));
  } catch (err) { showError(err); }
}

// What the form says, as PUT /api/admin/rooms/{name} takes it: one camera as `video` (and no list), several as
// `cameras` with the layout. A row left without an address is no camera.
export function roomChange() {
  const cams = rows().map((row, i) => ({ row, i, video: row.querySelector(".camera-url").value.trim() }))
    .filter((c) => c.video);
  const transport = $("room-transport").value;
  const json = { audio: $("room-audio").value.trim() || null, speakers: $("room-speakers").value.trim() || null,
                 rtsp_transport: transport === "auto" && !(editing && editing.rtsp_transport) ? null : transport };
  if (cams.length < 2) {
    Object.assign(json, { video: cams.length ? cams[0].video : null, cameras: [] });
  } else {
    json.video = null;
    json.cameras = cams.map(({ row, video }) => {
      const delay = row.querySelector(".camera-delay").value;
      return { name: row.querySelector(".camera-name").value.trim() || null, video,
               rtsp_transport: row.querySelector(".camera-transport").value || null,
               video_delay: delay === "" ? null : Number(delay) };
    });
    json.pip = pipOf();
  }
  return json;
}

async function saveRoom(event) {
  event.preventDefault();
  const original = $("room-original").value;
  const name = $("room-name").value.trim();
  const json = roomChange();
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

// -- cameras on the network (ONVIF, WS-Discovery): a click adds the stream as a camera row ---------------------
function withLogin(uri) {  // the user name and password typed above, into the address (never sent back masked)
  const user = $("camera-user").value.trim();
  const m = uri.match(/^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/]*@)?(.*)$/i);
  if (!user || !m) return uri;
  return `${m[1]}${encodeURIComponent(user)}:${encodeURIComponent($("camera-password").value)}@${m[2]}`;
}

// The row a picked stream goes to: the row this camera filled before (another of its streams), else the first
// row without an address, else a new row.
function useStream(host, uri) {
  const all = rows();
  const row = all.find((r) => r.dataset.from === host) || all.find((r) => !r.querySelector(".camera-url").value.trim())
    || addCamera();
  if (!row) { toast(t("adm.rooms.camera.full", { n: MAX_CAMERAS }), "error"); return; }
  row.dataset.from = host;
  const url = row.querySelector(".camera-url");
  url.value = withLogin(uri);
  url.focus();
}

function cameraItem(c) {
  const title = [c.name, c.hardware, c.host].filter(Boolean).join(" · ");
  const streams = c.streams.length ? c.streams : [{ profile: t("adm.cams.guess"), uri: c.guess }];
  const note = c.needs_login ? t("adm.cams.login") : (c.streams.length ? null : t("adm.cams.noStream"));
  return el("li", { "data-camera": c.host },
    el("strong", { text: title }), note ? el("span", { class: "muted", text: ` ${note}` }) : null,
    ...streams.map((s) => el("button", { type: "button", class: "small use-camera", "data-uri": s.uri,
      text: `${s.profile}: ${s.uri}`, onclick: () => useStream(c.host, s.uri) })));
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

export function initRooms() {
  $("room-transport").replaceChildren(...TRANSPORTS.map((x) => option(x, `adm.rooms.transport.${x}`, x === "auto")));
  $("pip-position").replaceChildren(...POSITIONS.map((x) => option(x, `adm.rooms.pip.${x}`, x === "top-right")));
  applyText($("room-form"));
  editRoom(null, false);
  $("room-form").addEventListener("submit", saveRoom);
  $("room-new").addEventListener("click", () => editRoom(null));
  $("camera-add").addEventListener("click", () => { const row = addCamera(); if (row) row.querySelector(".camera-url").focus(); });
  $("camera-find").addEventListener("click", findCameras);
}
