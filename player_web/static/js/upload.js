// Import a recording made elsewhere, with every field `xunlu import` takes: case, room, officers, 记录人, unit,
// the person questioned and their identity, when the interview took place and when they arrived in the
// centre, the speaker of each audio channel, the language and the words to expect (vocabulary). The file is sent as the request body (streamed by the
// browser, any size), with upload progress; the server checks the fields first (a value it cannot use is
// refused before the upload), keeps the file, hashes it and transcribes it in the background, and the page
// polls the import job until the session is ready, showing its state (queued for a worker, transcribing with
// its progress).
import { acceptLanguage, api, el, errorOf, loginAgain, showError, toast } from "./common.js";
import { t } from "./i18n.js";

const SPEAKERS = ["officer", "suspect"];   // channel 1, channel 2: what a two-microphone room records

function labelled(key, input) {
  return el("label", {}, el("span", { "data-i18n": key, text: t(key) }), input);
}

// "2026-11-23T14:05" from a datetime-local input -> "2026-11-23T14:05:00+08:00" in this browser's zone
export function withZone(local) {
  const d = new Date(local);
  if (!local || isNaN(d)) return null;
  const off = -d.getTimezoneOffset();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${off >= 0 ? "+" : "-"}${pad(off / 60)}:${pad(off % 60)}`;
}

function channelInput(n) {
  return el("input", { class: "import-speaker", id: `import-ch${n}`, list: "import-speaker-names", maxlength: 100,
    placeholder: SPEAKERS[n] || "", "data-channel": n });
}

export function uploadForm(onDone) {
  const file = el("input", { type: "file", id: "import-file", accept: "video/*,audio/*,.mkv,.ts,.flac,.wav" });
  const input = (id, attrs = {}) => el("input", { id, maxlength: 200, ...attrs });
  const caseId = input("import-case", { "data-i18n-ph": "form.case", list: "cases" });
  const room = input("import-room", { list: "rooms" });
  const officers = input("import-officers", { list: "officer-names", "data-i18n-ph": "form.officers.ph", maxlength: 400 });
  const recorder = input("import-recorder", { list: "officer-names" });
  const unit = input("import-unit");
  const suspect = input("import-suspect");
  const gender = el("select", { id: "import-gender" }, el("option", { value: "", text: "—" }),
    ...["男", "女", "未知"].map((g) => el("option", { value: g, text: g })));
  const birth = el("input", { id: "import-birth", type: "date" });
  const idNumber = input("import-idno", { "data-i18n-ph": "import.idno.ph" });
  const address = input("import-address", { maxlength: 500 });
  const started = el("input", { id: "import-started", type: "datetime-local", step: 1 });
  const checkIn = el("input", { id: "import-checkin", type: "datetime-local", step: 1 });
  const channels = el("div", { class: "import-channels" }, channelInput(0), channelInput(1));
  const more = el("button", { type: "button", class: "small ghost", id: "import-more-channels", "data-i18n": "import.channel.add",
    onclick: () => channels.append(channelInput(channels.children.length)) });
  const language = el("select", { id: "import-language" },
    el("option", { value: "", "data-i18n": "import.language.default", text: t("import.language.default") }),
    el("option", { value: "zh", text: "中文 zh" }),
    el("option", { value: "en", text: "English en" }), el("option", { value: "auto", text: "auto" }));
  const vocabulary = el("textarea", { id: "import-vocabulary", rows: 2, maxlength: 8000, "data-i18n-ph": "import.vocabulary.ph" });
  const bar = el("progress", { id: "import-progress", max: 100, value: 0, hidden: true });
  const state = el("small", { class: "muted", id: "import-state" });
  const button = el("button", { type: "submit", id: "import-go", "data-i18n": "import.go" });
  const form = el("form", { id: "import-form" }, file,
    labelled("form.case", caseId), labelled("form.room", room), labelled("form.officers", officers),
    labelled("import.recorder", recorder), labelled("import.unit", unit), labelled("form.suspect", suspect),
    el("details", { id: "import-identity" }, el("summary", { "data-i18n": "import.identity" }),
      labelled("import.gender", gender), labelled("import.birth", birth), labelled("import.idno", idNumber),
      labelled("import.address", address)),
    labelled("import.started", started), labelled("import.checkin", checkIn),
    el("fieldset", { class: "import-speakers" }, el("legend", { "data-i18n": "import.channels" }), channels, more),
    labelled("form.language", language), labelled("import.vocabulary", vocabulary),
    el("datalist", { id: "import-speaker-names" }, ...SPEAKERS.map((s) => el("option", { value: s, label: t(`spk.${s}`) }))),
    button, bar, state);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const q = new URLSearchParams({ filename: chosen.name, background: "true" });
    const put = (name, value) => { if (value && value.trim()) q.set(name, value.trim()); };
    put("language", language.value);
    put("case", caseId.value); put("room", room.value); put("officers", officers.value); put("recorder", recorder.value);
    put("unit", unit.value); put("suspect", suspect.value); put("suspect_gender", gender.value);
    put("suspect_birth", birth.value); put("suspect_id", idNumber.value); put("suspect_address", address.value);
    put("started_at", withZone(started.value) || "");
    put("check_in", withZone(checkIn.value) || "");
    put("speakers", [...channels.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean).join(","));
    put("vocabulary", vocabulary.value.split(/[\n,，、;；]/).map((w) => w.trim()).filter(Boolean).join(","));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/import?${q}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept-Language", acceptLanguage());   // refusals in the page's language
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
        if (job.state === "queued" || job.state === "running") {   // on a worker of the job queue, or here
          const pct = job.progress == null ? null : Math.round(100 * job.progress);
          state.textContent = job.state === "queued" ? t("import.queued")
            : pct == null ? t("import.transcribing") : t("import.progress", { pct });
          if (pct != null) bar.value = pct;
          setTimeout(() => poll(url), 1000);
          return;
        }
        if (job.state === "done") {
          form.reset();
          while (channels.children.length > 2) channels.lastChild.remove();
          done(t("import.done", { id: job.session }));
          onDone(job.session);
        } else done(job.message || job.detail || job.state, "error");
      }).catch((err) => done(err.message, "error"));
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 202) poll(body.status_url);
      else if (xhr.status === 401) loginAgain();
      else done(errorOf(xhr.status, body).message, "error");   // the server names the field it refused
    };
    xhr.onerror = () => done(t("err.network"), "error");
    xhr.send(chosen);
  });
  return el("details", { id: "import" }, el("summary", { "data-i18n": "import.title" }), form);
}
