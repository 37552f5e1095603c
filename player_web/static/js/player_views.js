// A recording with several cameras: buttons over the video switch between the picture-in-picture copy and each
// camera's original. They share one clock (the first audio sample), so the switch keeps the moment, whether
// playing or paused, and a search hit or a transcript line lands on the same moment in whichever is shown.
import { el } from "./common.js";
import { t } from "./i18n.js";

export function renderViews(p) {
  const views = (p.session && !p.live && p.session.views) || [];
  p.viewBar.hidden = views.length < 2;
  p.viewBar.replaceChildren(...views.map((v) => el("button", {
    class: `small ghost pl-view${v.url === p.viewUrl ? " active" : ""}`, "data-role": v.role,
    "aria-pressed": String(v.url === p.viewUrl), text: v.kind === "pip" ? t("pl.view.pip") : v.name,
    onclick: () => showView(p, v.url) })));
}

// the view a session opens on: the picture-in-picture copy when there is one
export function firstView(p) {
  const views = (p.session && p.session.views) || [];
  return views.length ? views[0].url : p.session.media_url;
}

export function showView(p, url) {
  if (!url || url === p.viewUrl) return;
  const at = p.video.readyState >= 1 ? p.video.currentTime : p.pendingSeek;
  const playing = !p.video.paused && !p.video.ended;
  p.viewUrl = url;
  p.pendingSeek = at;
  p.video.src = url;
  if (playing) p.video.play().catch(() => {});
  renderViews(p);
}
