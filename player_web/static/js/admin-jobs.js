// The administrator's background jobs (GET /api/jobs): imports, re-transcriptions, reindexing and the daily
// warnings, each with its state and a progress bar, and why a failed one failed (in the page's language). While
// a job is queued or running the list is read again every few seconds, as long as the tab is shown.
import { api, el, localTime, showError } from "./common.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
export const REFRESH_MS = 3000;
let timer = null;

// A label of the i18n table, else the value itself (a kind or state a newer server may add).
function word(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

const when = (stamp) => (stamp ? localTime(new Date(stamp * 1000).toISOString()) : "");

function owner(actor) {
  if (!actor) return "";
  if (actor.startsWith("web:")) return actor.slice(4);
  return actor.startsWith("system:") ? t("adm.jobs.system") : actor;
}

function bar(job) {
  const known = job.progress !== null && job.progress !== undefined;
  const meter = el("progress", { class: "job-progress", max: 1, "aria-label": t("adm.jobs.progress") });
  if (known) meter.value = job.progress;              // no value: an indeterminate bar (the work cannot tell)
  const pct = known ? `${Math.round(100 * job.progress)}%` : "";
  return [meter, el("span", { class: "job-pct muted", text: pct })];
}

function jobRow(job) {
  const state = el("td", { class: "state" }, el("span", { class: `job-state job-${job.state}`, text: word("adm.jobs.state", job.state) }));
  if (job.attempts > 1) state.append(el("span", { class: "muted", text: ` ${t("adm.jobs.attempt", { n: job.attempts })}` }));
  if (job.state === "running" && job.stage) state.append(el("div", { class: "muted job-stage", text: job.stage }));
  if (job.state === "failed") state.append(el("div", { class: "job-error", title: job.detail || "", text: job.error || "" }));
  const target = el("td", { class: "target", text: job.target || "" });
  if (job.session && job.session !== job.target) target.append(el("div", { class: "muted", text: job.session }));
  return el("tr", { "data-job": job.id, "data-state": job.state, "data-kind": job.kind },
    el("td", { class: "kind", title: job.id, text: word("adm.jobs.kind", job.kind) }),
    target, state,
    el("td", { class: "progress" }, ...bar(job)),
    el("td", { class: "who", title: job.owner, text: owner(job.owner) }),
    el("td", { class: "when", text: when(job.created_at) }),
    el("td", { class: "when", text: when(job.ended_at) }));
}

const shown = () => !$("tab-jobs").hidden;

export async function loadJobs() {
  clearTimeout(timer);
  timer = null;
  let active = 0;
  try {
    const answer = await api("/api/jobs?limit=200");
    active = answer.active;
    $("job-rows").replaceChildren(...(answer.jobs.length ? answer.jobs.map(jobRow)
      : [el("tr", {}, el("td", { colspan: 7, class: "muted", text: t("adm.jobs.none") }))]));
    $("jobs-count").textContent = t("adm.jobs.count", { n: answer.jobs.length, active })
      + ` · ${t(`adm.jobs.engine.${answer.engine}`)}`;
  } catch (err) { showError(err); }
  if (active > 0 && shown()) timer = setTimeout(() => { if (shown()) loadJobs(); }, REFRESH_MS);
}
