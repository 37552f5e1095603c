// The tabs under the player: markers ("bookmark this moment"), transcript versions with their diffs (the
// changed lines side by side, what was taken out and put in marked, and the unified diff), and the session's
// audit trail in words (who by name, what they did, its details) with an integrity check.
import { api, clock, el, localTime, showError, toast } from "./common.js";
import { t } from "./i18n.js";

export async function addMarker(p) {
  const body = { label: p.markerLabel.value.trim() };
  const at = p.live ? p.elapsed : p.video.currentTime;
  if (at !== undefined && at !== null && !(p.live && p.session.live)) body.at = Math.round(at * 100) / 100;
  try {
    const m = await api(`/api/sessions/${encodeURIComponent(p.sid)}/markers`, { method: "POST", json: body });
    p.markerLabel.value = "";
    toast(t("rec.markerSaved", { at: clock(m.at) }));
    p.showTab("markers");
  } catch (err) { showError(err); }
}

export async function showTab(p, name) {
  p.activeTab = name;
  p.tabs.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  const sid = encodeURIComponent(p.sid);
  try {
    if (name === "markers") {
      const markers = await api(`/api/sessions/${sid}/markers`);
      p.tabBody.replaceChildren(markers.length ? el("ul", { class: "markers" }, ...markers.map((m) =>
        el("li", { onclick: () => p.seek(m.at, true) }, el("span", { class: "time", text: clock(m.at) }),
          ` ${m.label || "★"} `, el("small", { text: m.actor_name || m.actor, title: m.actor })))) : el("p", { class: "muted", text: t("pl.noMarkers") }));
    } else if (name === "versions") {
      const versions = await api(`/api/sessions/${sid}/transcript/versions`);
      const sideBox = el("div", { class: "diff-side-box", hidden: true });
      const diffBox = el("pre", { class: "diff", hidden: true });
      p.tabBody.replaceChildren(el("table", { class: "grid" },
        el("tr", {}, ...["pl.version", "pl.by", "pl.when", "pl.reason", ""].map((k) => el("th", { text: k ? t(k) : "" }))),
        ...versions.reverse().map((v) => el("tr", { class: v.version === p.version ? "active" : null },
          el("td", {}, el("a", { href: "#", text: `v${v.version}`, onclick: (e) => { e.preventDefault(); p.loadTranscript(v.version); } }),
            ` ${t(`pl.kind.${v.kind}`)}`),
          el("td", { text: v.author }), el("td", { text: localTime(v.created_at) }), el("td", { text: v.reason }),
          el("td", {}, v.parent ? el("button", { class: "small ghost", text: t("pl.diff"), onclick: async () => {
            const d = await api(`/api/sessions/${sid}/transcript/diff?a=${v.parent}&b=${v.version}`);
            sideBox.hidden = false;
            sideBox.replaceChildren(sideBySide(p, d));
            diffBox.hidden = false;
            diffBox.replaceChildren(...d.diff.split("\n").map((line) => el("div", {
              class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : null, text: line }))); } }) : "")))),
      sideBox, diffBox);
    } else if (name === "audit") {
      const entries = await api(`/api/sessions/${sid}/audit`);
      const verify = el("button", { class: "small ghost", text: t("pl.verify"), onclick: async () => {
        const r = await api(`/api/verify/${sid}`);
        toast(r.ok ? `${t("pl.verify.ok")}: ${r.summary}` : r.problems.join("; "), r.ok ? "info" : "error"); } });
      p.tabBody.replaceChildren(verify, el("table", { class: "grid audit" },
        el("tr", {}, ...["pl.when", "pl.actor", "pl.action", "pl.details"].map((k) => el("th", { text: t(k) }))),
        // in words, in the page's language (the API's actor_name, action_label and summary)
        ...entries.reverse().map((a) => el("tr", { "data-action": a.action }, el("td", { text: localTime(a.at) }),
          el("td", { class: "actor", text: a.actor_name }), el("td", { class: "action", text: a.action_label }),
          el("td", { class: "details", text: a.summary })))));
    }
  } catch (err) { showError(err); }
}

// the lines that differ between two versions, side by side: version a's text with what was taken out marked,
// version b's with what was put in marked; a click on a line's time plays it
function sideBySide(p, d) {
  const side = (row, key) => {
    if (row[key] === null) return [el("span", { class: "muted", text: "—" })];
    return row.parts.filter((x) => x[key]).map((x) => (x.op === "equal" ? x[key]
      : el(key === "a" ? "del" : "ins", { text: x[key] })));
  };
  return el("table", { class: "grid diff-side" },
    el("tr", {}, el("th", { text: t("pl.time") }), el("th", { text: `v${d.a}` }), el("th", { text: `v${d.b}` })),
    ...d.rows.map((row) => el("tr", { "data-id": row.id },
      el("td", {}, el("a", { href: "#", class: "time", text: clock(row.start),
        onclick: (e) => { e.preventDefault(); p.seek(row.start, true); } })),
      el("td", { class: "a" }, ...side(row, "a")), el("td", { class: "b" }, ...side(row, "b")))));
}
