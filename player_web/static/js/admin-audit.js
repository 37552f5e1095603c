// The administrator's audit trail (who did what and when, by name, in words; filters; CSV) and the
// integrity check of the whole archive. Times are on the centre's clock (common.js localTime).
import { acceptLanguage, api, el, errorOf, localTime, showError, toast } from "./common.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const FILTERS = { actor: "audit-actor", action: "audit-action", session: "audit-session", since: "audit-since",
                  until: "audit-until" };

function query(format) {
  const p = new URLSearchParams({ limit: "1000" });
  for (const [key, id] of Object.entries(FILTERS)) if ($(id).value.trim()) p.set(key, $(id).value.trim());
  if (format) p.set("format", format);
  return p;
}

function auditRow(e) {
  const withheld = (e.withheld || []).length ? el("span", { class: "muted", text: ` ${t("adm.audit.withheld")}` }) : null;
  return el("tr", { "data-seq": e.seq, "data-action": e.action },
    el("td", { class: "when", text: localTime(e.at) }),
    el("td", { class: "who", title: e.actor, text: e.actor_name }),
    el("td", { class: "what", title: e.action, text: e.action_label }),
    el("td", { class: "target", title: e.target, text: e.target_label }),
    el("td", { class: "details" }, e.summary, withheld),
    el("td", { class: "muted", text: e.address || "" }));
}

async function loadAudit(event) {
  if (event) event.preventDefault();
  try {
    const entries = await api(`/api/admin/audit?${query()}`);
    $("audit-rows").replaceChildren(...entries.slice().reverse().map(auditRow));   // newest first
    $("audit-count").textContent = t("adm.audit.count", { n: entries.length });
  } catch (err) { showError(err); }
}

// The CSV through fetch, so that it is written in the page's language (a plain link sends the browser's).
async function downloadCsv() {
  try {
    const res = await fetch(`/api/admin/audit?${query("csv")}`, { headers: { "Accept-Language": acceptLanguage() } });
    if (!res.ok) throw errorOf(res.status, await res.json().catch(() => null));
    const blob = await res.blob();
    const name = (/filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "") || [])[1] || "audit.csv";
    const link = el("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  } catch (err) { showError(err); }
}

export async function initAudit() {
  try {
    const labels = await api("/api/audit/actions");
    const select = $("audit-action");
    const keep = select.value;
    select.replaceChildren(el("option", { value: "", text: t("search.any") }),
      ...Object.entries(labels).map(([code, label]) => el("option", { value: code, text: label })));
    select.value = keep;
  } catch (err) { showError(err); }
  if (!$("audit-filters").dataset.wired) {
    $("audit-filters").dataset.wired = "1";
    $("audit-filters").addEventListener("submit", loadAudit);
    $("audit-csv").addEventListener("click", downloadCsv);
  }
  await loadAudit();
}

// -- the integrity check ---------------------------------------------------------------------------------
function lastCheck(last) {
  if (!last) return t("adm.verify.never");
  const ok = last.details && last.details.ok;
  return t(ok ? "adm.verify.lastOk" : "adm.verify.lastBad", { when: localTime(last.at), who: last.actor_name || last.actor,
    n: (last.details && last.details.problems) || 0 });
}

function showReport(r) {
  const head = el("p", { class: r.ok ? "verify-ok" : "verify-bad",
    text: r.ok ? t("adm.verify.ok", { sessions: r.sessions, files: r.files, entries: r.audit_entries })
      : t("adm.verify.bad", { n: r.problems.length }) });
  $("verify-result").replaceChildren(head, ...(r.problems.length ? [el("ul", { class: "verify-problems" },
    ...r.problems.map((p) => el("li", { text: p })))] : []));
}

async function runVerify() {
  const button = $("verify-go");
  button.disabled = true;
  $("verify-result").replaceChildren(el("p", { class: "muted", text: t("adm.verify.running") }));
  try {
    const r = await api("/api/admin/verify", { method: "POST" });
    showReport(r);
    $("verify-last").textContent = lastCheck(r.last);
    if (r.ok) toast(t("adm.verify.done"));
  } catch (err) {
    $("verify-result").replaceChildren();
    showError(err);
  } finally { button.disabled = false; }
}

export async function initVerify() {
  if (!$("verify-go").dataset.wired) {
    $("verify-go").dataset.wired = "1";
    $("verify-go").addEventListener("click", runVerify);
  }
  try {
    const status = await api("/api/admin/verify");
    $("verify-last").textContent = lastCheck(status.last);
  } catch (err) { showError(err); }
}
