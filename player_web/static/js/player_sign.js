// The 笔录's signing in the player: who confirmed it signed and when (the audit chain keeps it: GET
// /api/sessions/{id} answers `signature`), a time that waits for a supervisor, or, for the officer at the
// console, a button that confirms it (POST /api/sessions/{id}/sign: now, or an earlier time a supervisor
// confirms). The server refuses anyone who did not take part.
import { api, el, localTime, showError, toast } from "./common.js";
import { t } from "./i18n.js";
import { withZone } from "./upload.js";

export function signedFact(p) {
  const s = p.session;
  const sig = s.signature || {};
  if (p.live || s.status !== "complete") return null;
  if (sig.at || s.signed_at) {
    const who = sig.signer ? ` · ${sig.signer}` : "";
    return el("span", { class: "fact signed", title: sig.by ? `${t("pl.sign.by")} ${sig.by}` : null,
      text: `${t("pl.signed")} ${localTime(sig.at || s.signed_at)}${who}` });
  }
  if (sig.pending) return el("span", { class: "fact sign-pending", text: `${t("pl.sign.pending")} ${localTime(sig.pending)}` });
  if (!p.editable) return el("span", { class: "fact unsigned", text: t("pl.unsigned") });
  return el("button", { class: "small pl-sign-open", text: t("pl.sign"), onclick: () => openSign(p) });
}

export function openSign(p) {
  const signer = el("input", { class: "pl-sign-signer", value: p.session.suspect || "", maxlength: 100 });
  const at = el("input", { class: "pl-sign-at", type: "datetime-local", step: 1 });
  const go = el("button", { class: "pl-sign-go", text: t("pl.sign.go"), onclick: () => sign(p, signer.value, at.value, go) });
  p.signBox.replaceChildren(el("b", { text: t("pl.sign.title") }),
    el("label", {}, el("span", { text: t("pl.sign.signer") }), signer),
    el("label", {}, el("span", { text: t("pl.sign.at") }), at), go,
    el("button", { class: "ghost pl-sign-cancel", text: t("pl.cancel"), onclick: () => { p.signBox.hidden = true; } }));
  p.signBox.hidden = false;
  signer.focus();
}

async function sign(p, signer, at, button) {
  const sid = p.sid;
  button.disabled = true;
  try {
    const r = await api(`/api/sessions/${encodeURIComponent(sid)}/sign`, { method: "POST",
      json: { signer: signer.trim() || null, at: withZone(at) } });
    toast(r.pending ? t("pl.sign.proposed") : t("pl.sign.done"));
    p.signBox.hidden = true;
    const session = await api(`/api/sessions/${encodeURIComponent(sid)}`);
    if (p.sid !== sid) return;
    p.session = { ...p.session, ...session };
    p.renderMeta();
  } catch (err) { showError(err); } finally { button.disabled = false; }
}
