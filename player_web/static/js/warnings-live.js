// Warning widgets for other pages: the badge on each session, and the live warnings box of a session being
// recorded (officer console, supervisor's live view). Both poll the API; nothing here changes anything.
//   import { badge, liveWarnings } from "./warnings-live.js";
//   node.append(badge(counts[sid]));                 // counts from await badgeCounts([sid, ...])
//   const stop = liveWarnings(container, sid);        // call stop() when the session is closed
import { api, clock, el } from "./common.js";
import { playerLink, tw } from "./warnings-text.js";

export async function badgeCounts(sessions) {
  const p = new URLSearchParams({ sessions: sessions.join(",") });
  try { return await api(`/api/warnings/badges?${p}`); } catch { return {}; }
}

export function badge(counts) {
  if (!counts || (!counts.red && !counts.yellow)) return null;
  const box = el("span", { class: "warn-badge", title: tw("warn.live.title") });
  if (counts.red) box.append(el("span", { class: "red", text: String(counts.red) }));
  if (counts.yellow) box.append(el("span", { class: "yellow", text: String(counts.yellow) }));
  return box;
}

export function liveWarnings(container, sid, everyMs = 10000) {
  const box = el("section", { class: "warn-live quiet", "aria-live": "polite" });
  container.append(box);
  let timer = null;
  async function poll() {
    try {
      const data = await api(`/api/sessions/${encodeURIComponent(sid)}/warnings`);
      const open = data.warnings.filter((w) => w.state === "open");
      box.classList.toggle("quiet", open.length === 0);
      box.replaceChildren(el("strong", { text: tw("warn.live.title") }),
        open.length ? el("ul", {}, ...open.map((w) => el("li", {},
          el("span", { class: `warn-level ${w.level}`, text: tw(`warn.${w.level}`) }), " ",
          w.at !== null && w.at !== undefined ? el("a", { href: playerLink(sid, w.at), text: clock(w.at) }) : "", " ",
          el("span", { text: w.reason }))))
          : el("div", { class: "muted", text: tw("warn.live.none") }));
    } catch { /* the next poll tries again */ }
  }
  poll();
  timer = setInterval(poll, everyMs);
  return () => { clearInterval(timer); box.remove(); };
}
