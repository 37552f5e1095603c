// The player: video beside the transcript. Archive mode plays the recording (HTTP Range) with the transcript
// following playback word by word, corrections saved as new versions and corrected lines marked; live mode
// plays the HLS stream and the transcript arriving over the WebSocket (player_live.js). Search hits are
// marks on a timeline under the video, with next/previous (N / P). The 笔录: print view, DOCX and PDF, and
// its signing confirmed here. Markers, versions (side-by-side diff), audit trail underneath.
import { api, applyPerms, clock, el, localTime, showError, speakerName, toast } from "./common.js";
import { applyText, t } from "./i18n.js";
import { goHit, moveHead, nextHit, renderHits, setHits } from "./player_hits.js";
import { startLive } from "./player_live.js";
import { openSign, signedFact } from "./player_sign.js";
import { addMarker, showTab } from "./player_tabs.js";
import { firstView, renderViews } from "./player_views.js";
import { liveWarnings } from "./warnings-live.js";

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export class Player {
  constructor(root, { editable = false, onStopped = null } = {}) {
    this.root = root;
    this.editable = editable;
    this.onStopped = onStopped;
    this.sid = null;
    this.session = null;
    this.segments = [];
    this.lines = new Map();
    this.partials = new Map();
    this.currentId = null;
    this.hls = null;
    this.ws = null;
    this.live = false;
    this.version = null;
    this.pendingSeek = null;
    this.opened = 0;
    this.hits = [];          // search hits in this recording, in time order
    this.hitIndex = -1;
    this.corrected = new Map();  // segment id -> {asr, text}: lines of this version that are not the ASR's
    this.nowWord = null;
    this.raf = null;
    this.build();
    document.addEventListener("keydown", (e) => this.onKey(e));
    document.addEventListener("xunlu:lang", () => this.refreshLabels());
  }

  build() {
    this.video = el("video", { controls: true, preload: "metadata", playsinline: true, class: "pl-video" });
    this.overlay = el("div", { class: "pl-overlay", hidden: true });
    this.viewBar = el("div", { class: "pl-views", role: "group", hidden: true });  // several cameras
    this.viewUrl = null;
    this.title = el("h2", { class: "pl-title" });
    this.badge = el("span", { class: "badge live", "data-i18n": "pl.live", hidden: true });
    this.facts = el("div", { class: "pl-facts" });
    this.signBox = el("div", { class: "pl-sign", hidden: true });  // confirm that the 笔录 was signed
    this.warnHost = el("div", { class: "pl-warnings" });  // a session being recorded: its live warnings
    this.stopWarnings = null;
    this.statusLine = el("span", { class: "pl-status" });
    this.alarm = el("div", { class: "pl-alarm", role: "alert", hidden: true });  // recorder stopped: disk full...
    this.exports = el("span", { class: "pl-exports" });
    this.hitbar = el("div", { class: "pl-hitbar", hidden: true, title: t("pl.hit.bar"),
      onclick: (e) => { if (e.target === this.hitbar) this.seekFraction(e.offsetX / this.hitbar.clientWidth); } });
    this.hitLabel = el("span", { class: "pl-hit-label" });
    this.hitnav = el("span", { class: "pl-hitnav", hidden: true },
      el("button", { class: "small ghost pl-hit-prev", "data-i18n": "pl.hit.prev", title: "P", onclick: () => this.nextHit(-1) }),
      this.hitLabel,
      el("button", { class: "small ghost pl-hit-next", "data-i18n": "pl.hit.next", title: "N", onclick: () => this.nextHit(1) }));
    this.markerLabel = el("input", { class: "pl-marker-label", "data-i18n-ph": "rec.marker.ph", maxlength: 200 });
    this.markerButton = el("button", { class: "pl-marker", "data-i18n": "rec.marker", onclick: () => this.addMarker() });
    this.tabBody = el("div", { class: "pl-tab-body" });
    this.tabs = el("div", { class: "pl-tabs", role: "tablist" },
      ...["markers", "versions", "audit"].map((name) => el("button", {
        class: "tab", role: "tab", "data-tab": name, "data-i18n": `pl.${name}`, "data-perm": name === "audit" ? "audit" : null,
        onclick: () => this.showTab(name) })));
    applyPerms(this.tabs);   // the audit trail is the supervisors': officers get no tab that answers 403
    this.list = el("ol", { class: "pl-lines", tabindex: "0", "aria-live": "polite" });
    this.follow = el("input", { type: "checkbox", checked: true, class: "pl-follow" });
    this.reason = el("input", { class: "pl-reason", maxlength: 200, "data-i18n-title": "pl.reason" });
    this.vlabel = el("span", { class: "pl-vlabel" });
    this.hint = el("div", { class: "pl-hint", "data-i18n": "pl.shortcuts" });
    this.root.replaceChildren(el("div", { class: "player" },
      el("section", { class: "pl-media" },
        el("div", { class: "pl-meta" }, this.title, this.badge, this.statusLine, this.facts),
        this.signBox, this.alarm, this.warnHost,
        this.viewBar,
        el("div", { class: "pl-video-wrap" }, this.video, this.overlay),
        this.hitbar,
        el("div", { class: "pl-bar" }, this.hitnav, this.markerLabel, this.markerButton, this.exports),
        this.tabs, this.tabBody),
      el("section", { class: "pl-text" },
        el("div", { class: "pl-text-head" },
          el("b", { "data-i18n": "pl.transcript" }), this.vlabel, el("span", { class: "spacer" }),
          el("label", { class: "pl-reason-wrap" }, el("span", { "data-i18n": "pl.reason" }), this.reason),
          el("label", {}, this.follow, el("span", { "data-i18n": "pl.follow" }))),
        this.hint, this.list)));
    this.root.hidden = true;
    this.video.addEventListener("timeupdate", () => this.onTime());
    this.video.addEventListener("seeked", () => this.onTime());
    this.video.addEventListener("loadedmetadata", () => {
      if (this.pendingSeek !== null) { this.video.currentTime = this.pendingSeek; this.pendingSeek = null; }
      this.renderHits();
    });
    this.video.addEventListener("play", () => this.follow_());
    applyText(this.root);
    this.reason.placeholder = t("pl.reason.default");   // each correction states its own reason
  }

  refreshLabels() {
    if (this.session) this.renderMeta();
    renderViews(this);
    this.renderHits();
    this.showVersion();
    this.renderLines();
    if (this.activeTab) this.showTab(this.activeTab);
  }

  // -- opening -------------------------------------------------------------------------------------
  async open(sid, { at = null, hit = null, hits = null } = {}) {
    this.close();
    const token = ++this.opened;  // a later open() wins over one still waiting for the server
    this.sid = sid;
    this.hit = hit;
    this.setHits(hits || (hit ? [hit] : []), hit);
    this.root.hidden = false;
    let session;
    try {
      session = await api(`/api/sessions/${encodeURIComponent(sid)}`);
    } catch (err) { if (token === this.opened) showError(err); return; }
    if (token !== this.opened) return;
    this.session = session;
    this.live = this.session.live || this.session.status === "recording";  // here or by another process
    this.renderMeta();
    this.root.classList.toggle("is-live", this.live);
    this.root.classList.toggle("is-editable", false);
    if (this.live) {
      this.stopWarnings = liveWarnings(this.warnHost, sid);
      this.startLive();
    } else await this.loadArchive(null, at);
    this.showTab("markers");
  }

  close() {
    if (this.stopWarnings) { this.stopWarnings(); this.stopWarnings = null; }
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
    clearTimeout(this.retry);
    this.video.removeAttribute("src");
    this.video.load();
    this.viewUrl = null;
    this.viewBar.hidden = true;
    this.segments = [];
    this.partials.clear();
    this.lines.clear();
    this.list.replaceChildren();
    this.currentId = null;
    this.editingId = null;
    this.nowWord = null;
    this.corrected = new Map();
    this.signBox.hidden = true;
  }

  renderMeta() {
    const s = this.session;
    this.title.textContent = s.id;
    this.badge.hidden = !this.live;
    const fact = (key, value) => value ? el("span", { class: "fact" }, el("i", { text: t(key) }), ` ${value}`) : null;
    this.facts.replaceChildren(...[  // a field not given is left out (replaceChildren would print it as "null")
      fact("meta.case", s.case_id), fact("meta.room", s.room),
      fact("meta.officers", (s.officers || []).join("、")), fact("meta.recorder", s.recorder),
      fact("meta.suspect", s.suspect),
      el("span", { class: "fact", text: localTime(s.started_at || s.created_at) }),
      el("span", { class: `fact status-${s.status}`, text: t(`status.${s.status}`) }),
      this.signedFact()].filter(Boolean));
    const v = this.version ? `&version=${this.version}` : "";
    const base = `/api/sessions/${encodeURIComponent(s.id)}/export?`;
    const print = `record.html?sid=${encodeURIComponent(s.id)}${v}`;
    this.exports.replaceChildren(...(s.latest_version ? [
      el("span", { "data-i18n": "pl.export", text: t("pl.export") }),
      el("a", { class: "btn", href: `${base}format=docx${v}`, download: "", "data-format": "docx", text: t("pl.docx") }),
      el("a", { class: "btn small", href: print, target: "_blank", rel: "noopener", "data-format": "print", text: t("pl.print") }),
      el("a", { class: "btn small", href: `${base}format=pdf${v}`, download: "", "data-format": "pdf", text: "PDF" }),
      ...["srt", "vtt", "txt", "json"].map((f) => el("a", { class: "btn small", href: `${base}format=${f}${v}`,
        download: "", "data-format": f, text: f.toUpperCase() }))] : []));
  }

  // -- the 笔录's signing (player_sign.js) ---------------------------------------------------------------
  signedFact() { return signedFact(this); }

  openSign() { return openSign(this); }

  async loadArchive(version, at) {
    const s = this.session;
    if (s.media_url) {
      this.overlay.hidden = true;
      this.pendingSeek = at;
      this.viewUrl = firstView(this);
      this.video.src = this.viewUrl;
      renderViews(this);
    } else {
      this.overlay.hidden = false;
      this.overlay.textContent = t("pl.noMedia");
    }
    await this.loadTranscript(version);
  }

  async loadTranscript(version) {
    const q = version ? `?version=${version}` : "";
    const token = this.opened;
    let tr = null;
    try {
      tr = await api(`/api/sessions/${encodeURIComponent(this.sid)}/transcript${q}`);
    } catch (err) {
      if (err.status !== 404 && token === this.opened) showError(err);
    }
    if (token !== this.opened) return;  // another session was opened meanwhile
    const corrected = tr ? await this.correctionsOf(tr.version) : new Map();
    if (token !== this.opened) return;
    this.corrected = corrected;
    this.segments = tr ? tr.segments : [];
    this.version = tr ? tr.version : null;
    this.latest = this.session.latest_version;
    this.showVersion();
    this.root.classList.toggle("is-editable", this.canEdit());
    this.renderMeta();
    this.renderLines();
    if (this.hit) this.showHit(this.hit);
  }

  // the lines of a corrected version that differ from what the speech recognition wrote
  async correctionsOf(version) {
    const known = (this.session.transcripts || []).find((v) => v.version === version);
    if (version === 1 || (known && known.kind !== "edit")) return new Map();
    try {
      const c = await api(`/api/sessions/${encodeURIComponent(this.sid)}/transcript/corrections?version=${version}`);
      return new Map(c.lines.map((l) => [l.id, l]));
    } catch (err) { return new Map(); }
  }

  showVersion() {
    const latest = this.version === this.latest ? ` (${t("pl.latest")})` : "";
    this.vlabel.textContent = this.version ? `v${this.version}${latest}` : "";
  }

  canEdit() {
    return this.editable && !this.live && this.version !== null && this.version === this.latest;
  }

  // -- the transcript pane ----------------------------------------------------------------------------
  renderLines() {
    this.lines.clear();
    this.list.replaceChildren();
    if (!this.segments.length && !this.live) {
      this.list.append(el("li", { class: "empty", text: t("pl.empty") }));
    }
    for (const seg of this.segments) this.list.append(this.lineFor(seg));
    for (const p of this.partials.values()) this.list.append(p);
    this.currentId = null;
    this.nowWord = null;
    this.onTime();
  }

  lineFor(seg) {
    const text = el("span", { class: "txt" });
    if (seg.words && seg.words.length && seg.words.map((w) => w.text).join("").replace(/\s+/g, "") === seg.text.replace(/\s+/g, "")) {
      for (const w of seg.words) text.append(el("span", { class: "w", "data-s": w.start, "data-e": w.end, text: w.text }));
    } else {
      text.textContent = seg.text;
    }
    const fixed = this.corrected.get(seg.id);
    const li = el("li", {
      class: `line ch${seg.channel ?? 0}${fixed ? " corrected" : ""}`, "data-id": seg.id, "data-start": seg.start,
      "data-end": seg.end, title: fixed ? t("pl.corrected", { asr: fixed.asr }) : null,
      onclick: (e) => { if (!e.target.closest(".editor, .edit")) this.seek(seg.start, true); },
      ondblclick: (e) => { if (this.canEdit() && !e.target.closest(".editor")) this.startEdit(seg.id); },
    },
    el("span", { class: "time", text: clock(seg.start) }),
    el("span", { class: "spk", text: speakerName(seg.speaker, seg.channel) }),
    text,
    el("button", { class: "edit", title: t("pl.edit"), "aria-label": t("pl.edit"), text: "✎",
      onclick: () => this.startEdit(seg.id) }));
    this.lines.set(seg.id, li);
    return li;
  }

  showHit(hit) {
    this.list.querySelectorAll(".hitline, .w.hit").forEach((n) => n.classList.remove("hitline", "hit"));
    const li = this.lines.get(hit.segment);
    if (!li) return;
    li.classList.add("hitline");
    for (const w of li.querySelectorAll(".w")) {
      const s = parseFloat(w.dataset.s), e = parseFloat(w.dataset.e);
      if (s >= hit.start - 0.011 && e <= hit.end + 0.011) w.classList.add("hit");
    }
    li.scrollIntoView({ block: "center" });
  }

  onTime() {
    if (this.live) return;
    const now = this.video.currentTime;
    this.moveHead(now);
    if (!this.segments.length) return;
    let lo = 0, hi = this.segments.length - 1, at = -1;  // the last line begun by now
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid].start <= now + 0.05) { at = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const found = at >= 0 ? this.segments[at] : null;
    const id = found && now <= found.end + 1.5 ? found.id : null;
    if (id !== this.currentId) {
      if (this.currentId !== null) this.lines.get(this.currentId)?.classList.remove("current");
      this.currentId = id;
      const li = id === null ? null : this.lines.get(id);
      li?.classList.add("current");
      if (li && this.follow.checked && this.editingId == null) li.scrollIntoView({ block: "nearest" });
    }
    this.highlightWord(id === null ? null : this.lines.get(id), now);
  }

  // the word being spoken: the current line's word whose time holds `now`
  highlightWord(li, now) {
    let word = null;
    if (li) {
      for (const w of li.querySelectorAll(".w")) {
        const s = parseFloat(w.dataset.s), e = parseFloat(w.dataset.e);
        if (s > now + 0.02) break;
        if (now < e + 0.1) word = w;
      }
    }
    if (word === this.nowWord) return;
    this.nowWord?.classList.remove("now");
    this.nowWord = word;
    word?.classList.add("now");
  }

  // while playing, follow every frame (timeupdate comes only about four times a second: too slow for words)
  follow_() {
    if (this.raf !== null) return;
    const tick = () => {
      this.onTime();
      this.raf = !this.video.paused && !this.video.ended ? requestAnimationFrame(tick) : null;
    };
    this.raf = requestAnimationFrame(tick);
  }

  // -- search hits: marks on a timeline under the video, next and previous (player_hits.js) -----------
  setHits(hits, current = null) { setHits(this, hits, current); }

  renderHits() { renderHits(this); }

  moveHead(now) { moveHead(this, now); }

  goHit(i) { goHit(this, i); }

  nextHit(step) { nextHit(this, step); }

  duration() {
    const d = this.video.duration;
    return Number.isFinite(d) && d > 0 ? d : (this.session && this.session.duration) || 0;
  }

  seekFraction(f) {
    const dur = this.duration();
    if (dur) this.seek(Math.max(0, Math.min(1, f)) * dur);
  }

  seek(seconds, play = false) {
    if (this.live) return;
    if (this.video.readyState >= 1) this.video.currentTime = Math.max(0, seconds);
    else this.pendingSeek = Math.max(0, seconds);
    if (play) this.video.play().catch(() => {});
  }

  startEdit(id) {
    if (!this.canEdit()) return;
    if (this.editingId != null) this.cancelEdit();
    const seg = this.segments.find((s) => s.id === id);
    const li = this.lines.get(id);
    if (!seg || !li) return;
    this.editingId = id;
    const input = el("input", { class: "edit-input", value: seg.text, "aria-label": t("pl.edit") });
    const editor = el("span", { class: "editor" }, input,
      el("button", { class: "save", text: t("pl.save"), onclick: () => this.saveEdit(id, input.value) }),
      el("button", { class: "ghost cancel", text: t("pl.cancel"), onclick: () => this.cancelEdit() }));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); this.saveEdit(id, input.value); }
    });
    li.querySelector(".txt").replaceWith(editor);
    li.classList.add("editing");
    input.focus();
  }

  cancelEdit() {
    const id = this.editingId;
    this.editingId = null;
    const seg = this.segments.find((s) => s.id === id);
    const li = this.lines.get(id);
    if (seg && li) li.replaceWith(this.lineFor(seg));
  }

  async saveEdit(id, text) {
    const seg = this.segments.find((s) => s.id === id);
    if (!seg) return;
    if (text.trim() === seg.text) { this.cancelEdit(); return; }
    try {
      const v = await api(`/api/sessions/${encodeURIComponent(this.sid)}/transcript`, {
        method: "PATCH", json: { changes: { [id]: text }, reason: this.reason.value || t("pl.reason.default"),
          base_version: this.version } });
      this.editingId = null;
      this.reason.value = "";   // the next correction's reason is its own, not this one's
      this.session.latest_version = v.version;
      toast(t("pl.saved", { v: v.version }));
      await this.loadTranscript(null);
      if (this.activeTab === "versions") this.showTab("versions");
    } catch (err) { showError(err); }
  }

  onKey(e) {
    if (this.root.hidden || !this.sid) return;
    const typing = TYPING.has(e.target.tagName) || e.target.isContentEditable;
    if (e.key === "Escape" && this.editingId != null) {
      e.preventDefault();
      this.cancelEdit();   // Esc leaves the line being corrected as it was
    } else if (e.key === "Escape" || (e.ctrlKey && e.code === "Space")) {
      e.preventDefault();
      this.togglePlay();
    } else if (e.key === "F1") {
      e.preventDefault();
      this.rewind(2);
    } else if (!typing && e.target.tagName !== "BUTTON" && e.target !== this.video) {
      const plain = !e.ctrlKey && !e.metaKey && !e.altKey;
      if (e.code === "Space") { e.preventDefault(); this.togglePlay(); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); this.rewind(2); }
      else if (e.key === "ArrowRight") { e.preventDefault(); this.rewind(-2); }
      else if (plain && this.hits.length && ["n", "N", "]"].includes(e.key)) { e.preventDefault(); this.nextHit(e.key === "N" ? -1 : 1); }
      else if (plain && this.hits.length && ["p", "P", "["].includes(e.key)) { e.preventDefault(); this.nextHit(-1); }
    }
  }

  togglePlay() {
    if (this.video.paused) this.video.play().catch(() => {}); else this.video.pause();
  }

  rewind(seconds) {
    if (this.live) return;
    this.video.currentTime = Math.max(0, this.video.currentTime - seconds);
  }

  // -- live (player_live.js) ---------------------------------------------------------------------------
  startLive() { startLive(this); }

  // -- markers, versions, audit (player_tabs.js) ------------------------------------------------------
  addMarker() { return addMarker(this); }

  showTab(name) { return showTab(this, name); }
}
