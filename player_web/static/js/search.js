// Supervisor search and player: search every session (filters: case, speaker, date); a result opens the
// player one second before the matched word, highlighted in the transcript; live sessions can be watched.
// A hit found by sound (same syllables, other characters) carries a small 同音 mark with the text as the ASR
// wrote it; "exact only" leaves such hits out.
import { api, clock, el, header, localTime, markedSnippet, showError, speakerName } from "./common.js";
import { t } from "./i18n.js";
import { Player } from "./player.js";
import { watchSessions } from "./session_watch.js";
import { badge, badgeCounts } from "./warnings-live.js";

const $ = (id) => document.getElementById(id);
const player = new Player($("player"), { editable: false });
const PRE_ROLL = 1.0;  // seconds before the matched word
let autoplay = null;  // the pending "play once loaded" of the last hit opened
let shown = [];       // the hits of the last search: the player marks those of the recording it opens

// "exact only" (no sound-alikes), next to the search button
$("go").before(el("label", { class: "exact", "data-i18n-title": "search.exact.title", title: t("search.exact.title") },
  el("input", { id: "exact", name: "exact", type: "checkbox" }), " ", el("span", { "data-i18n": "search.exact", text: t("search.exact") })));

function params() {
  const p = new URLSearchParams();
  for (const id of ["q", "case", "speaker", "since", "until"]) if ($(id).value.trim()) p.set(id, $(id).value.trim());
  if ($("exact").checked) p.set("exact", "true");
  return p;
}

function soundMark(h) {
  if (h.match !== "sound") return null;
  const written = h.written || "";
  return el("span", { class: "badge sound", title: t("search.sound.title", { w: written }),
    text: written ? `${t("search.sound")} ${written}` : t("search.sound") });
}

async function search(e) {
  if (e) e.preventDefault();
  const p = params();
  if (!p.get("q")) { $("results-box").hidden = true; return; }
  history.replaceState(null, "", `?${p}`);
  try {
    const r = await api(`/api/search?${p}`);
    shown = r.hits;
    $("results-box").hidden = false;
    $("count").textContent = t("search.count", { n: r.hits.length, ms: Math.round(r.took_ms) });
    $("results").replaceChildren(...(r.hits.length ? r.hits.map((h) => el("li", { class: "hit", tabindex: "0",
      "data-session": h.session, "data-start": h.start,
      onclick: () => openHit(h), onkeydown: (ev) => { if (ev.key === "Enter") openHit(h); } },
      el("div", { class: "hit-head" }, el("span", { class: "time", text: clock(h.start) }),
        el("span", { class: `spk ch${h.channel}`, text: speakerName(h.speaker, h.channel) }),
        soundMark(h),
        el("span", { class: "muted", text: [h.session, h.case, h.date ? localTime(h.date).split(" ")[0] : null].filter(Boolean).join(" · ") })),
      el("div", { class: "snippet" }, markedSnippet(h.snippet))))
      : [el("li", { class: "muted", text: t("search.none") })]));
  } catch (err) { showError(err); }
}

function openHit(h) {
  document.querySelectorAll("#results .hit.active").forEach((n) => n.classList.remove("active"));
  document.querySelector(`#results .hit[data-session="${h.session}"][data-start="${h.start}"]`)?.classList.add("active");
  $("placeholder").hidden = true;
  const at = Math.max(0, h.start - PRE_ROLL);
  const hits = shown.filter((x) => x.session === h.session);
  autoplay?.abort();
  autoplay = null;
  if (player.sid === h.session && !player.live && player.segments.length) {  // same recording: just jump
    player.hit = h;
    player.setHits(hits, h);
    player.showHit(h);
    player.seek(at, true);
  } else {
    player.open(h.session, { at, hit: h, hits });
    // a hit plays from its moment: once the media is known (the player seeks to `at` first), play
    autoplay = new AbortController();
    player.video.addEventListener("loadedmetadata", () => { autoplay = null; player.video.play().catch(() => {}); },
      { once: true, signal: autoplay.signal });
  }
}

function openSession(sid, at = null) {
  autoplay?.abort();
  autoplay = null;
  $("placeholder").hidden = true;
  player.open(sid, { at });
}

async function loadSessions() {
  try {
    const sessions = await api("/api/sessions?limit=200");
    const known = new Set([...$("speaker").options].map((o) => o.value));
    for (const name of new Set(sessions.flatMap((s) => s.speakers || []))) {
      if (!known.has(name)) $("speaker").append(el("option", { value: name, text: speakerName(name) }));
    }
    $("cases").replaceChildren(...[...new Set(sessions.map((s) => s.case_id).filter(Boolean))].map((c) => el("option", { value: c })));
    const counts = sessions.length ? await badgeCounts(sessions.map((s) => s.id)) : {};
    $("sessions").replaceChildren(...sessions.map((s) => el("li", { "data-session": s.id, onclick: () => openSession(s.id) },
      el("b", { text: s.id }), " ", s.live ? el("span", { class: "badge live", text: t("search.live") })
        : el("span", { class: `status-${s.status}`, text: t(`status.${s.status}`) }), badge(counts[s.id]),
      el("div", { class: "muted", text: [s.case_id, s.room, localTime(s.started_at)].filter(Boolean).join(" · ") }))));
  } catch (err) { showError(err); }
}

header("search.html");
$("search-form").addEventListener("submit", search);
document.addEventListener("xunlu:lang", () => { loadSessions(); if ($("q").value) search(); });
const initial = new URLSearchParams(location.search);
for (const id of ["q", "case", "speaker", "since", "until"]) if (initial.get(id)) $(id).value = initial.get(id);
$("exact").checked = initial.get("exact") === "true";
loadSessions();
if (initial.get("q")) search();
if (initial.get("sid")) {  // a link to a moment (a warning's, a shared one): ?sid=...&t=SECONDS
  const at = Number.parseFloat(initial.get("t"));
  openSession(initial.get("sid"), Number.isFinite(at) && at >= 0 ? at : null);
}
watchSessions(loadSessions);   // a session started anywhere shows in the list at once
