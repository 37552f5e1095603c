// The officer console: choose room, case, officers and person questioned; one key starts audio, video and
// live transcription; watch the live transcript; bookmark moments; stop; then correct it line by line
// beside the player and export the 笔录.
import { api, clock, el, header, localTime, showError, toast } from "./common.js";
import { applyText, t } from "./i18n.js";
import { Player } from "./player.js";
import { QUIET_ENDS, endText } from "./player_live.js";
import { uploadForm } from "./upload.js";
import { badge, badgeCounts } from "./warnings-live.js";

const $ = (id) => document.getElementById(id);
let player;
let recordingSid = null;
let clockTimer = null;
let devices = {};  // room -> {audio, video, speakers} from the server's config.toml [rooms]

function roomChosen() {  // a configured room brings its microphone and camera
  const d = devices[$("room").value.trim()];
  if (!d) return;
  if (d.audio) $("audio").value = d.audio;
  if (d.video) $("video-src").value = d.video;
  if (d.speakers) $("speakers").value = d.speakers;
}

function split(value) {
  return value.split(/[,，、;；]/).map((s) => s.trim()).filter(Boolean);
}

async function loadChoices() {
  try {
    const r = await api("/api/rooms");
    const fill = (id, values) => $(id).replaceChildren(...values.map((v) => el("option", { value: v })));
    fill("rooms", r.rooms); fill("cases", r.cases); fill("officer-names", r.officers);
    if (r.defaults.audio && !$("audio").value) $("audio").value = r.defaults.audio;
    if (r.defaults.video && !$("video-src").value) $("video-src").value = r.defaults.video;
    // the server's default language, when live transcription can use it (never "auto": not offered here)
    if ([...$("language").options].some((o) => o.value === r.defaults.language)) $("language").value = r.defaults.language;
    devices = r.devices || {};
  } catch (err) { showError(err); }
  try {  // what a recording may be started from: the server refuses anything else
    const d = await api("/api/devices");
    const options = (list) => list.map((s) => el("option", { value: s.id, label: `${s.label} (${s.id})` }));
    $("audio-sources").replaceChildren(...options(d.audio));
    $("video-sources").replaceChildren(...options(d.video));
  } catch (err) { /* a user who may not record gets no sources to choose from */ }
}

async function loadRecent() {
  try {
    const sessions = await api("/api/sessions?limit=8");
    const live = sessions.find((s) => s.live);
    if (live && !recordingSid) showRecording(live.id, live.started_at);
    const counts = sessions.length ? await badgeCounts(sessions.map((s) => s.id)) : {};
    $("recent-list").replaceChildren(...(sessions.length ? sessions.map((s) => el("li", { "data-session": s.id },
      el("a", { href: `?sid=${encodeURIComponent(s.id)}`, onclick: (e) => { e.preventDefault(); openSession(s.id); } },
        el("b", { text: s.id }), " ", el("span", { class: `status-${s.status}`, text: t(`status.${s.status}`) })),
      badge(counts[s.id]),
      el("div", { class: "muted", text: [s.case_id, s.room, s.suspect].filter(Boolean).join(" · ") })))
      : [el("li", { class: "muted", text: t("recent.none") })]));
  } catch (err) { showError(err); }
}

function showRecording(sid, startedAt) {
  recordingSid = sid;
  $("start-form").hidden = true;
  $("recording").hidden = false;
  $("rec-sid").textContent = sid;
  const started = startedAt ? new Date(startedAt).getTime() : Date.now();
  clearInterval(clockTimer);
  clockTimer = setInterval(() => {
    const elapsed = player && player.sid === sid && player.elapsed !== undefined ? player.elapsed : (Date.now() - started) / 1000;
    $("rec-clock").textContent = clock(elapsed);
  }, 500);
  history.replaceState(null, "", `?sid=${encodeURIComponent(sid)}`);
  if (player.sid !== sid || !player.live) player.open(sid);
}

function showForm() {
  recordingSid = null;
  clearInterval(clockTimer);
  $("recording").hidden = true;
  $("start-form").hidden = false;
  $("start").disabled = false;
}

// a recording that ended without the officer's stop (its file or camera ended, the disk filled up, ...) says
// so beside the form, until the next start
function announceEnd(sid, ev) {
  const box = $("ended");
  if (QUIET_ENDS.has(ev.reason)) return;
  box.dataset.code = ev.reason;
  box.replaceChildren(el("b", { text: t("live.ended") }), " ", el("span", { class: "muted", text: `${sid} · ${localTime(new Date().toISOString())}` }),
    el("div", { text: endText(ev.reason) }));
  box.hidden = false;
  toast(`${t("live.ended")}: ${endText(ev.reason)}`, "error");
}

async function start(e) {
  e.preventDefault();
  $("ended").hidden = true;
  const button = $("start");
  button.disabled = true;
  button.querySelector("[data-i18n]").textContent = t("form.starting");
  const body = {
    room: $("room").value.trim() || null, case_id: $("case").value.trim() || null,
    officers: split($("officers").value), suspect: $("suspect").value.trim() || null,
    speakers: split($("speakers").value), audio: $("audio").value.trim() || null,
    video: $("video-src").value.trim() || null, language: $("language").value,
    vocabulary: $("vocabulary").value.trim(),
  };
  try {
    const s = await api("/api/sessions", { method: "POST", json: body });
    showRecording(s.id, s.started_at);
    loadRecent();
  } catch (err) {
    showError(err);
    button.disabled = false;
  } finally {
    button.querySelector("[data-i18n]").textContent = t("form.start");
  }
}

async function stop() {
  if (!recordingSid || !confirm(t("rec.confirmStop"))) return;
  const sid = recordingSid;
  $("stop").disabled = true;
  $("stop").textContent = t("rec.stopping");
  try {
    await api(`/api/sessions/${encodeURIComponent(sid)}/stop`, { method: "POST" });
  } catch (err) {
    if (err.status !== 409) showError(err);  // 409: it had already ended
  } finally {
    $("stop").disabled = false;
    $("stop").textContent = t("rec.stop");
  }
  finished(sid);
}

function finished(sid) {
  if (recordingSid !== sid) return;
  showForm();
  player.open(sid);
  loadRecent();
}

function openSession(sid) {
  history.replaceState(null, "", `?sid=${encodeURIComponent(sid)}`);
  player.open(sid).then(() => { if (player.live) showRecording(sid, player.session.started_at); });
}

header("console.html");
$("recent").after(uploadForm((sid) => { loadRecent(); openSession(sid); }));
applyText();
document.addEventListener("xunlu:lang", () => loadRecent());
player = new Player($("player"), {
  editable: true,
  onStopped: (sid, ev) => {
    announceEnd(sid, ev);
    if (recordingSid === sid) finished(sid); else player.open(sid);
  },
});
$("start-form").addEventListener("submit", start);
$("room").addEventListener("change", roomChosen);
$("stop").addEventListener("click", stop);
loadChoices();
loadRecent();
const wanted = new URLSearchParams(location.search).get("sid");
if (wanted) openSession(wanted);
