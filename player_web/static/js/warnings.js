// The supervisor's warnings page: filters (unit, level, rule, date, state), red first, close with a reason.
import { api, clock, el, header, localTime, showError, toast } from "./common.js";
import { applyWarnText, csrfHeaders, playerLink, ruleTitle, tw } from "./warnings-text.js";

const $ = (id) => document.getElementById(id);
const FILTERS = ["unit", "level", "rule", "since", "until", "state"];
let closing = null;

function query(force) {
  const p = new URLSearchParams();
  for (const id of FILTERS) if ($(id).value) p.set(id, $(id).value);
  if (force) p.set("refresh", "1");
  return p;
}

function fillSelect(select, values, labels = {}) {
  const keep = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const v of values) if (!known.has(v)) select.append(el("option", { value: v, text: labels[v] || v }));
  for (const o of select.options) if (labels[o.value]) o.textContent = labels[o.value];   // after a language change
  select.value = keep;
}

function row(w) {
  const at = w.at === null || w.at === undefined ? "" : clock(w.at);
  const state = w.state === "closed"
    ? el("div", { class: "muted", text: tw("warn.closed.by", { who: w.closed_by, when: localTime(w.closed_at), reason: w.close_reason }) })
    : w.state === "resolved" ? el("div", { class: "muted", text: tw("warn.state.resolved") }) : null;
  const close = w.state === "open"
    ? el("button", { class: "ghost", "data-id": w.id, text: tw("warn.close"), onclick: () => openClose(w) }) : null;
  return el("tr", { class: w.state, "data-id": w.id, "data-level": w.level },
    el("td", {}, el("span", { class: `warn-level ${w.level}`, text: tw(`warn.${w.level}`) })),
    el("td", {}, el("a", { href: playerLink(w.session, null), text: w.session })),
    el("td", {}, at ? el("a", { href: playerLink(w.session, w.at), title: tw("warn.open.player"), text: at }) : ""),
    el("td", { text: w.unit || "" }),
    el("td", { title: w.rule, text: ruleTitle(w.rule, w.title) }),
    el("td", {}, el("div", { text: w.reason }), state),
    el("td", { class: "muted", text: localTime(w.first_seen) }),
    el("td", {}, close));
}

async function load(force = false) {
  const p = query(force);
  history.replaceState(null, "", `?${p}`);
  try {
    const data = await api(`/api/warnings?${p}`);
    fillSelect($("unit"), data.units);
    fillSelect($("rule"), Object.keys(data.rules), Object.fromEntries(Object.keys(data.rules).map((r) => [r, ruleTitle(r, data.rules[r])])));
    $("rows").replaceChildren(...data.warnings.map(row));
    $("empty").hidden = data.warnings.length > 0;
    $("counts").textContent = tw("warn.counts", { n: data.warnings.length, red: data.counts.red, yellow: data.counts.yellow });
  } catch (err) { showError(err); }
}

function openClose(w) {
  closing = w;
  $("close-what").textContent = `#${w.id} ${w.session} · ${ruleTitle(w.rule, w.title)} · ${w.reason}`;
  $("close-reason").value = "";
  $("close-dialog").showModal();
  $("close-reason").focus();
}

async function confirmClose(event) {
  event.preventDefault();
  const reason = $("close-reason").value.trim();
  if (!reason) { toast(tw("warn.need.reason"), "error"); return; }
  try {
    await api(`/api/warnings/${closing.id}/close`, { method: "POST", json: { reason }, headers: csrfHeaders() });
    $("close-dialog").close();
    toast(tw("warn.closed.ok", { id: closing.id }));
    load();
  } catch (err) { showError(err); }
}

header("warnings.html");
applyWarnText();
document.addEventListener("xunlu:lang", () => { applyWarnText(); load(); });
const initial = new URLSearchParams(location.search);
for (const id of FILTERS) if (initial.get(id)) $(id).value = initial.get(id);
$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(true); });
for (const id of FILTERS) $(id).addEventListener("change", () => load());
$("close-form").addEventListener("submit", confirmClose);
$("close-cancel").addEventListener("click", () => $("close-dialog").close());
load(true);
setInterval(load, 60000);
