// The player's live mode: the room's video through hls.js, kept as close to the room as the segments allow,
// and the transcript arriving over the WebSocket (partials greyed), the elapsed time and ASR lag, the
// recorder's alarms and why the recording ended. Everything the server says by a code (an alarm, the end of
// a recording, a closed or refused socket) is shown in the page's language (i18n.js, keys live.*).
import { clock, el, loginAgain, speakerName, toast } from "./common.js";
import { t } from "./i18n.js";

// hls.js behind the live edge: the recorder closes a segment (starting with a keyframe) every second and the
// server answers the playlist request as soon as the next one is listed (blocking reload, lowLatencyMode); so
// the newest listed frame is at most about 1.1 s old, and playing 1.3 s behind the newest listed second
// keeps the next segment arriving before it is needed. Further behind, hls.js plays up to 1.2x faster until
// it is back; more than 2 s behind (joining, a stall, a hidden tab), it jumps to 1.3 s. About 1.5 s from the
// room to the screen on one machine (bench/web.py, section video).
export const LIVE_HLS = { lowLatencyMode: true, liveSyncDuration: 1.3, liveMaxLatencyDuration: 2, maxLiveSyncPlaybackRate: 1.2, liveSyncOnStallIncrease: 0.25, liveDurationInfinity: true, backBufferLength: 30 };
const RETRY = { manifestLoadingMaxRetry: 300, manifestLoadingRetryDelay: 500, levelLoadingMaxRetry: 100 };  // a new session: its playlist comes with its first segment

// how a recording ended ("stopped" event, service/live.py END_REASONS): the officer's stop is no news
export const QUIET_ENDS = new Set(["stop", undefined, null]);

export function endText(reason) {
  const key = `live.end.${reason}`;
  const text = t(key);
  return text === key ? t("rec.stopped") : text;
}

// a WebSocket closed or refused by the server (4000 + HTTP status before the handshake; 1008 when the login
// ended or lost the right; 1013 a viewer too slow): the page's words for it, or null for a normal close
function closeText(code) {
  const key = `live.close.${code}`;
  const text = t(key);
  return text === key ? null : text;
}

export function startLive(p) {
  p.overlay.hidden = false;
  p.overlay.textContent = t("pl.waitingVideo");
  p.version = null;
  p.vlabel.textContent = "";
  attachHls(p);
  connect(p);
}

function attachHls(p) {
  const url = p.session.hls_url || `/api/sessions/${encodeURIComponent(p.sid)}/live/index.m3u8`;
  p.video.muted = true;  // an officer's own room must not echo; a remote viewer can unmute
  p.video.addEventListener("playing", () => { p.overlay.hidden = true; }, { once: true });
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ ...RETRY, ...LIVE_HLS });
    p.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => p.video.play().catch(() => {}));
    hls.on(window.Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal || p.hls !== hls) return;
      if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else p.retry = setTimeout(() => { if (p.hls === hls) hls.loadSource(url); }, 2000);
    });
    hls.loadSource(url);
    hls.attachMedia(p.video);
  } else if (p.video.canPlayType("application/vnd.apple.mpegurl")) {
    p.video.src = url;
    p.video.play().catch(() => {});
  }
}

function connect(p) {
  const sid = p.sid;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/sessions/${encodeURIComponent(sid)}/live`);
  p.alarm.hidden = true;
  p.ws = ws;
  ws.onmessage = (m) => onEvent(p, JSON.parse(m.data));
  ws.onclose = (ev) => {
    if (ev.code === 4401) { loginAgain(); return; }
    const said = closeText(ev.code);
    if (said) toast(said, ev.code === 1013 ? "info" : "error");
    if (ev.code === 4403 || ev.code === 4404) return;  // refused: trying again changes nothing
    if (p.ws === ws && p.live && p.sid === sid) p.retry = setTimeout(() => connect(p), 1500);
  };
}

function onEvent(p, ev) {
  if (ev.type === "snapshot") {
    p.segments = [];
    p.partials.clear();
    for (const seg of ev.segments || []) addFinal(p, seg, false);
    for (const part of Object.values(ev.partials || {})) setPartial(p, part);
    p.renderLines();
    if (ev.status) onStatus(p, ev.status);
    if (ev.alarm) showAlarm(p, ev.alarm);
    p.list.scrollTop = p.list.scrollHeight;
  } else if (ev.type === "partial") {
    setPartial(p, ev);
    scrollLive(p);
  } else if (ev.type === "final") {
    addFinal(p, ev.segment, true);
    scrollLive(p);
  } else if (ev.type === "status") {
    onStatus(p, ev);
  } else if (ev.type === "alarm") {
    showAlarm(p, ev);
  } else if (ev.type === "stopped") {
    stopped(p, ev);
  } else if (ev.type === "error") {
    const key = `live.error.${ev.status}`;
    toast(`${t("err")}: ${t(key) === key ? t("live.error") : t(key)}`, "error");
  }
}

function stopped(p, ev) {
  p.live = false;
  if (p.ws) { p.ws.onclose = null; p.ws.close(); p.ws = null; }
  p.statusLine.textContent = endText(ev.reason);
  p.statusLine.dataset.ended = ev.reason || "stop";
  const sid = p.sid;
  if (p.onStopped) { p.onStopped(sid, ev); return; }
  if (!QUIET_ENDS.has(ev.reason)) toast(`${sid}: ${endText(ev.reason)}`, "error");
  setTimeout(() => { if (p.sid === sid) p.open(sid); }, 300);
}

// the recorder stopped by itself (disk full, ffmpeg gone): its code in words; the operator's text as a tooltip
function showAlarm(p, a) {
  const key = `live.alarm.${a.code}`;
  const words = t(key) === key ? t("live.alarm.recorder_stopped") : t(key);
  p.alarm.textContent = `${t("rec.alarm")} ${clock(a.at || 0)} · ${words}`;
  p.alarm.dataset.code = a.code || "";
  p.alarm.title = a.message || "";
  p.alarm.hidden = false;
}

function onStatus(p, st) {
  if (st.elapsed === undefined || st.elapsed === null) return;
  p.elapsed = st.elapsed;
  const lag = st.lag !== undefined ? ` · ${t("rec.lag")} ${Number(st.lag).toFixed(1)} s` : "";
  p.statusLine.textContent = `${t("rec.elapsed")} ${clock(st.elapsed)}${lag}`;
}

function addFinal(p, seg, render) {
  const known = p.segments.findIndex((s) => s.id === seg.id);
  if (known >= 0) p.segments[known] = seg; else p.segments.push(seg);
  p.segments.sort((a, b) => a.start - b.start || a.id - b.id);
  const partial = p.partials.get(String(seg.channel ?? 0));
  if (partial && parseFloat(partial.dataset.start) <= seg.end + 0.01) {
    partial.remove();
    p.partials.delete(String(seg.channel ?? 0));
  }
  if (!render) return;
  p.list.querySelector(".empty")?.remove();
  const line = p.lineFor(seg);
  const old = [...p.list.querySelectorAll(".line:not(.partial)")].find((n) => Number(n.dataset.id) === seg.id);
  if (old) { old.replaceWith(line); return; }
  p.list.insertBefore(line, p.list.querySelector(".partial"));
}

function setPartial(p, part) {
  const key = String(part.channel ?? 0);
  let li = p.partials.get(key);
  if (!li) {
    li = el("li", { class: `line partial ch${part.channel ?? 0}` },
      el("span", { class: "time" }), el("span", { class: "spk" }), el("span", { class: "txt" }));
    p.partials.set(key, li);
    p.list.append(li);
  }
  li.dataset.start = part.start;
  li.querySelector(".time").textContent = clock(part.start);
  li.querySelector(".spk").textContent = speakerName(part.speaker, part.channel);
  li.querySelector(".txt").textContent = part.text;
}

function scrollLive(p) {
  if (p.follow.checked) p.list.scrollTop = p.list.scrollHeight;
}
