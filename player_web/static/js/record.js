// The 讯问笔录 print view: the record of one transcript version (GET /api/sessions/{id}/record) on A4 pages,
// with the signature line and 第 N 页 共 M 页 at the foot of each printed page (css/record.css), a print
// button and the PDF the server prints from this same page (?pdf=1: no buttons). An officer completes the
// header here (记录人, the person's identity: a live session's start form does not ask for them) until the
// record is signed.
import { api, currentUser, el, showError, toast } from "./common.js";
import { applyText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const sid = query.get("sid") || "";
const version = query.get("version") || "";

export function renderRecord(root, r) {
  const fields = r.fields.map((f) => el("p", { class: "field", "data-name": f.name },
    el("b", { text: `${f.name}：` }), f.value));
  const turns = r.turns.map((t) => el("p", { class: "turn", "data-start": t.start },
    el("span", { class: "label", text: `${t.label}：` }), t.text, el("span", { class: "at", text: t.clock })));
  const signed = r.signature && r.signature.at
    ? el("p", { class: "signed", text: `笔录已于 ${r.signature.at.replace("T", " ").slice(0, 16)} 确认签名${r.signature.signer ? `（${r.signature.signer}）` : ""}` })
    : null;
  root.replaceChildren(...[
    el("h1", { text: r.title }),
    el("section", { class: "fields" }, ...fields),
    r.rights ? el("p", { class: "rights", text: r.rights }) : null,
    el("section", { class: "turns" }, ...turns),
    el("section", { class: "closing" }, el("p", { class: "statement", text: r.closing }),
      ...r.signatures.map((s) => el("p", { class: "sign", text: s })), signed)].filter(Boolean));
}

const HEADER = [["recorder", "import.recorder"], ["suspect_gender", "import.gender"], ["suspect_birth", "import.birth"],
  ["suspect_id", "import.idno"], ["suspect_address", "import.address"]];

async function editHeader() {
  const form = $("record-header");
  if (!form.hidden) { form.hidden = true; return; }
  const s = await api(`/api/sessions/${encodeURIComponent(sid)}`);
  const input = (name) => {
    if (name === "suspect_gender") {
      return el("select", { name }, ...["", "男", "女", "未知"].map((g) => el("option", { value: g, text: g || "—",
        selected: (s[name] || "") === g })));
    }
    return el("input", { name, value: s[name] || "", type: name === "suspect_birth" ? "date" : "text", maxlength: 500 });
  };
  form.replaceChildren(...HEADER.map(([name, key]) => el("label", {}, el("span", { text: t(key) }), input(name))),
    el("button", { type: "submit", text: t("record.save") }));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const json = Object.fromEntries(HEADER.map(([name]) => [name, form.elements[name].value]));
    try {
      await api(`/api/sessions/${encodeURIComponent(sid)}/record-header`, { method: "POST", json });
      form.hidden = true;
      toast(t("record.saved"));
      await load();
    } catch (err) { showError(err); }
  };
  form.hidden = false;
}

async function load() {
  const r = await api(`/api/sessions/${encodeURIComponent(sid)}/record${version ? `?version=${encodeURIComponent(version)}` : ""}`);
  document.title = t("title.record.of", { sid: r.session, v: r.version });
  renderRecord($("record"), r);
  $("record-edit").hidden = !(me && me.user.role === "officer") || Boolean(r.signature && r.signature.at);
  document.body.classList.add("ready");
}

let me = null;

async function main() {
  if (query.get("pdf")) document.body.classList.add("pdf");
  applyText();
  $("record-print").addEventListener("click", () => window.print());
  const v = version ? `&version=${encodeURIComponent(version)}` : "";
  $("record-pdf").href = `/api/sessions/${encodeURIComponent(sid)}/export?format=pdf${v}`;
  $("record-edit").addEventListener("click", () => editHeader().catch(showError));
  if (!query.get("pdf")) me = await currentUser();
  try {
    await load();
  } catch (err) { showError(err); }
}

main();
