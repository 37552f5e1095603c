// Search hits in the player: a mark for each hit of this recording on a timeline under the video (a click
// plays it, one second before the word), the hit being shown highlighted, and next/previous (buttons, or the
// keys N and P, ] and [). search.js gives the player the hits of the recording it opens.
import { clock, el, toast } from "./common.js";
import { t } from "./i18n.js";

const PRE_ROLL = 1.0;  // a hit plays from one second before its word

export function setHits(p, hits, current = null) {
  p.hits = [...(hits || [])].filter((h) => !h.session || h.session === p.sid).sort((a, b) => a.start - b.start);
  p.hitIndex = current ? p.hits.findIndex((h) => h.start === current.start && h.segment === current.segment) : -1;
  renderHits(p);
}

export function renderHits(p) {
  const dur = p.duration();
  p.hitbar.hidden = !p.hits.length || !dur || p.live;
  p.hitnav.hidden = !p.hits.length || p.live;
  p.hitLabel.textContent = p.hits.length ? `${p.hitIndex >= 0 ? p.hitIndex + 1 : "–"}/${p.hits.length}` : "";
  if (p.hitbar.hidden) { p.hitbar.replaceChildren(); p.head = null; return; }
  p.head = el("span", { class: "pl-head" });
  p.hitbar.replaceChildren(p.head, ...p.hits.map((h, i) => {
    const mark = el("button", { class: `pl-hitmark${i === p.hitIndex ? " active" : ""}`, "data-start": h.start,
      title: clock(h.start), "aria-label": `${t("pl.hit")} ${i + 1}: ${clock(h.start)}`, onclick: () => goHit(p, i) });
    mark.style.left = `${Math.min(100, (100 * h.start) / dur)}%`;  // CSSOM: allowed where style attributes are not
    return mark;
  }));
  moveHead(p, p.video.currentTime);
}

export function moveHead(p, now) {
  const dur = p.duration();
  if (p.head && dur) p.head.style.left = `${Math.min(100, (100 * now) / dur)}%`;
}

export function goHit(p, i) {
  if (!p.hits.length) return;
  p.hitIndex = Math.max(0, Math.min(p.hits.length - 1, i));
  const h = p.hits[p.hitIndex];
  p.hit = h;
  p.showHit(h);
  p.seek(Math.max(0, h.start - PRE_ROLL), true);
  renderHits(p);
}

// the next (+1) or previous (-1) hit: from the one shown, else from where playback is
export function nextHit(p, step) {
  if (!p.hits.length) return;
  let i = p.hitIndex;
  if (i < 0) {
    const now = p.video.currentTime;
    i = step > 0 ? p.hits.findIndex((h) => h.start > now + PRE_ROLL) : p.hits.findLastIndex((h) => h.start < now);
    if (i < 0) i = step > 0 ? p.hits.length - 1 : 0;
  } else i += step;
  if (i < 0 || i >= p.hits.length) { toast(t(step > 0 ? "pl.hit.last" : "pl.hit.first")); return; }
  goHit(p, i);
}
