// Import a recording made elsewhere: the file is sent as the request body (streamed by the browser, any
// size), with upload progress; the server keeps it, hashes it, transcribes it and answers the session.
import { el, showError, toast } from "./common.js";
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
    const q = new URLSearchParams({ filename: chosen.name });
    if (caseId.value.trim()) q.set("case", caseId.value.trim());
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/import?${q}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("xunlu_csrf="));
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", decodeURIComponent(csrf.split("=")[1]));
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    state.textContent = t("import.uploading");
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = (100 * ev.loaded) / ev.total; };
    xhr.upload.onload = () => { state.textContent = t("import.transcribing"); };
    xhr.onload = () => {
      button.disabled = false;
      bar.hidden = true;
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201) {
        state.textContent = "";
        form.reset();
        toast(t("import.done", { id: body.id }));
        onDone(body.id);
      } else {
        state.textContent = "";
        showError(new Error(body.detail || `${xhr.status}`));
      }
    };
    xhr.onerror = () => { button.disabled = false; bar.hidden = true; state.textContent = ""; showError(new Error("network")); };
    xhr.send(chosen);
  });
  return el("details", { id: "import" }, el("summary", { "data-i18n": "import.title" }), form);
}
