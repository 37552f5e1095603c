// Import a recording made elsewhere: the file is sent as the request body (streamed by the browser, any
// size), with upload progress; the server keeps it, hashes it and transcribes it in the background, and
// the page polls the import job until the session is ready.
import { api, el, loginAgain, showError, toast } from "./common.js";
import { t } from "./i18n.js";

export function uploadForm(onDone) {
  const file = el("input", { type: "file", id: "import-file", accept: "video/*,audio/*,.mkv,.ts,.flac,.wav" });
  const caseId = el("input", { id: "import-case", "data-i18n-ph": "form.case", maxlength: 200 });
  const bar = el("progress", { id: "import-progress", max: 100, value: 0, hidden: true });
  const state = el("small", { class: "muted", id: "import-state" });
  const button = el("button", { type: "submit", id: "import-go", "data-i18n": "import.go" });
  const form = el("form", { id: "import-form" }, file, caseId, button, bar, state);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const q = new URLSearchParams({ filename: chosen.name, background: "true" });
    if (caseId.value.trim()) q.set("case", caseId.value.trim());
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/import?${q}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("xunlu_csrf="));
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", decodeURIComponent(csrf.slice("xunlu_csrf=".length)));
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    state.textContent = t("import.uploading");
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = (100 * ev.loaded) / ev.total; };
    xhr.upload.onload = () => { state.textContent = t("import.transcribing"); };
    const done = (message, kind) => {
      button.disabled = false;
      bar.hidden = true;
      state.textContent = "";
      if (kind === "error") showError(new Error(message)); else toast(message);
    };
    const poll = (url) => {  // transcription takes minutes for long recordings: ask now and then
      api(url).then((job) => {
        if (job.state === "importing") { setTimeout(() => poll(url), 1000); return; }
        if (job.state === "complete") { form.reset(); done(t("import.done", { id: job.session })); onDone(job.session); }
        else done(job.detail || job.state, "error");
      }).catch((err) => done(err.message, "error"));
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 202) poll(body.status_url);
      else if (xhr.status === 401) loginAgain();
      else done(body.detail || `${xhr.status}`, "error");
    };
    xhr.onerror = () => done("network", "error");
    xhr.send(chosen);
  });
  return el("details", { id: "import" }, el("summary", { "data-i18n": "import.title" }), form);
}
