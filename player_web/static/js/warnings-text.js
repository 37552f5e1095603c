// Texts of the warnings page and the warning widgets (zh / en), following the page language of i18n.js.
import { lang } from "./i18n.js";

const TEXT = {
  zh: {
    "warn.unit": "单位", "warn.level": "级别", "warn.rule": "规则", "warn.state": "状态", "warn.all": "全部",
    "warn.red": "红色", "warn.yellow": "黄色", "warn.state.open": "未处理", "warn.state.closed": "已关闭",
    "warn.state.resolved": "已消除", "warn.refresh": "查询", "warn.session": "讯问录像", "warn.at": "位置",
    "warn.reason": "原因", "warn.seen": "发现时间", "warn.none": "没有符合条件的预警",
    "warn.close": "关闭预警", "warn.close.title": "关闭预警", "warn.close.reason": "关闭理由（必填，将记入审计日志）",
    "warn.cancel": "取消", "warn.counts": "共 {n} 条：红色 {red} 条，黄色 {yellow} 条",
    "warn.closed.by": "{who} 于 {when} 关闭：{reason}", "warn.closed.ok": "预警 #{id} 已关闭",
    "warn.need.reason": "请填写关闭理由", "warn.live.title": "实时预警", "warn.live.none": "目前没有预警",
    "warn.open.player": "打开录像到此处",
    "rule.rights_notice": "权利义务告知", "rule.rights_understood": "告知后未表示听清", "rule.too_few_officers": "单人讯问",
    "rule.officer_silent": "讯问人声道无声", "rule.continuous_questioning": "连续讯问超时",
    "rule.night_questioning": "夜间讯问无理由", "rule.detention": "羁押超时", "rule.room_not_approved": "讯问地点不规范",
    "rule.unsigned_record": "笔录无签名", "rule.recording_gap": "录像不连续", "rule.recording_restart": "录像中断重录",
    "rule.transcript_past_media": "转写超出录像", "rule.media_without_transcript": "录像无转写",
  },
  en: {
    "warn.unit": "Unit", "warn.level": "Level", "warn.rule": "Rule", "warn.state": "State", "warn.all": "all",
    "warn.red": "red", "warn.yellow": "yellow", "warn.state.open": "open", "warn.state.closed": "closed",
    "warn.state.resolved": "resolved", "warn.refresh": "Show", "warn.session": "Session", "warn.at": "At",
    "warn.reason": "Reason", "warn.seen": "Found", "warn.none": "No warning matches",
    "warn.close": "Close", "warn.close.title": "Close the warning", "warn.close.reason": "Why (required; kept in the audit trail)",
    "warn.cancel": "Cancel", "warn.counts": "{n} warning(s): {red} red, {yellow} yellow",
    "warn.closed.by": "closed by {who} at {when}: {reason}", "warn.closed.ok": "warning #{id} closed",
    "warn.need.reason": "Give a reason", "warn.live.title": "Live warnings", "warn.live.none": "No warning so far",
    "warn.open.player": "Open the recording here",
    "rule.rights_notice": "Rights notice", "rule.rights_understood": "Notice not acknowledged",
    "rule.too_few_officers": "Fewer than two officers", "rule.officer_silent": "Officer channel silent",
    "rule.continuous_questioning": "Continuous questioning too long",
    "rule.night_questioning": "Night questioning without reason", "rule.detention": "Time in centre over limit",
    "rule.room_not_approved": "Room not approved", "rule.unsigned_record": "Record not signed",
    "rule.recording_gap": "Recording not continuous", "rule.recording_restart": "Recording stopped and restarted",
    "rule.transcript_past_media": "Transcript past media", "rule.media_without_transcript": "Media without transcript",
  },
};

export function tw(key, vars = {}) {
  let s = TEXT[lang()][key] ?? TEXT.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

// A rule's title in the page's language (the server's own words for a rule this page does not know).
export function ruleTitle(rule, fallback) {
  const key = `rule.${rule}`;
  const found = tw(key);
  return found === key ? fallback || rule : found;
}

export function applyWarnText(root = document) {
  root.querySelectorAll("[data-wt]").forEach((node) => { node.textContent = tw(node.dataset.wt); });
}

// Unsafe requests from a logged-in browser carry the CSRF cookie's value in X-CSRF-Token.
export function csrfHeaders() {
  const m = document.cookie.match(/(?:^|;\s*)xunlu_csrf=([^;]+)/);
  return m ? { "X-CSRF-Token": decodeURIComponent(m[1]) } : {};
}

// Where a warning's moment opens in the player (the search page opens ?sid=, and seeks to t= where supported).
export function playerLink(session, at) {
  const p = new URLSearchParams({ sid: session });
  if (at !== null && at !== undefined) p.set("t", String(Math.floor(at)));
  return `search.html?${p}`;
}
