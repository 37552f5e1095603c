// UI text in Chinese (default) and English. Elements carry data-i18n (text), data-i18n-ph (placeholder) or
// data-i18n-title (tooltip); JS calls t(key, {name: value}).
const TEXT = {
  zh: {
    "brand": "讯录", "nav.console": "讯问控制台", "nav.search": "检索回放", "nav.warnings": "预警", "nav.docs": "API",
    "nav.logout": "退出登录", "lang.toggle": "English",
    "form.title": "开始讯问", "form.room": "讯问地点", "form.case": "案件编号", "form.officers": "讯问人",
    "form.officers.ph": "张三, 李四", "form.suspect": "被讯问人", "form.speakers": "声道说话人",
    "form.speakers.ph": "officer, suspect", "form.advanced": "设备与语言", "form.audio": "音频源",
    "form.video": "视频源", "form.audio.ph": "房间的麦克风、本机设备或 test", "form.video.ph": "房间的摄像头、本机设备或 test",
    "form.language": "语言", "form.start": "开始录音录像", "form.starting": "正在启动…",
    "form.hint": "一键同时开始录音、录像和实时转写。",
    "rec.recording": "录制中", "rec.stop": "停止", "rec.stopping": "正在结束…", "rec.marker": "标记此刻",
    "rec.marker.ph": "标记说明（可选）", "rec.elapsed": "时长", "rec.lag": "转写延迟", "rec.stopped": "已停止",
    "rec.confirmStop": "确定停止本次讯问录制吗？", "rec.markerSaved": "已标记 {at}", "rec.alarm": "告警：录制已中断",
    "console.placeholder": "开始新的讯问，或从左侧选择最近的讯问进行校对和导出", "recent.title": "最近的讯问", "recent.none": "暂无记录", "recent.open": "校对", "recent.watch": "观看直播",
    "pl.transcript": "笔录转写", "pl.version": "版本", "pl.latest": "最新", "pl.markers": "标记",
    "pl.versions": "版本记录", "pl.audit": "审计记录", "pl.export": "导出", "pl.docx": "笔录 DOCX",
    "pl.reason": "修改原因", "pl.reason.default": "人工校对",
    "pl.shortcuts": "快捷键：Esc 或 Ctrl+空格 播放/暂停，F1 后退 2 秒；单击一行跳转播放，双击或 ✎ 修改，回车保存。",
    "pl.edit": "修改", "pl.save": "保存", "pl.cancel": "取消", "pl.saved": "已保存为第 {v} 版",
    "pl.live": "直播中", "pl.waitingVideo": "等待视频…", "pl.noMedia": "尚无录像", "pl.empty": "尚无转写内容",
    "pl.follow": "跟随播放", "pl.diff": "与上一版比较", "pl.noMarkers": "暂无标记", "pl.readonly": "只读",
    "pl.when": "时间", "pl.actor": "操作人", "pl.action": "操作", "pl.details": "内容", "pl.by": "作者",
    "pl.kind.asr": "语音识别", "pl.kind.edit": "人工修改", "pl.verify": "校验完整性", "pl.verify.ok": "完整",
    "pl.select": "从左侧选择检索结果或会话进行回放", "pl.partial": "（识别中）",
    "search.q.ph": "输入关键词、人名或数字，例如 仓库 或 \"港口路\"", "search.go": "检索", "search.case": "案件",
    "search.speaker": "说话人", "search.any": "全部", "search.since": "从", "search.until": "到",
    "search.results": "检索结果", "search.count": "共 {n} 条，用时 {ms} 毫秒", "search.none": "没有找到",
    "search.sessions": "全部会话", "search.live": "直播中",
    "search.sound": "同音", "search.sound.title": "读音相同、写法不同：转写为“{w}”",
    "search.exact": "仅按原文", "search.exact.title": "只找写法相同的，不找同音词",
    "spk.officer": "民警", "spk.suspect": "被讯问人",
    "status.recording": "录制中", "status.finalising": "整理中", "status.complete": "已完成", "status.failed": "失败",
    "import.title": "导入外部录像", "import.go": "上传并转写", "import.uploading": "正在上传…",
    "import.transcribing": "已上传，正在转写…", "import.done": "已导入为 {id}",
    "err": "出错了", "meta.case": "案件", "meta.room": "地点", "meta.officers": "讯问人", "meta.suspect": "被讯问人",
    "login.title": "登录讯录", "login.username": "用户名", "login.password": "密码", "login.go": "登录",
    "login.hint": "忘记密码或账户被锁定，请联系系统管理员。", "login.wrong": "用户名或密码错误",
    "login.missing": "请输入用户名和密码",
  },
  en: {
    "brand": "xunlu", "nav.console": "Officer console", "nav.search": "Search & playback", "nav.warnings": "Warnings",
    "nav.docs": "API", "nav.logout": "Log out", "lang.toggle": "中文",
    "form.title": "Start an interview", "form.room": "Room", "form.case": "Case id", "form.officers": "Officers",
    "form.officers.ph": "Zhang San, Li Si", "form.suspect": "Person questioned", "form.speakers": "Channel speakers",
    "form.speakers.ph": "officer, suspect", "form.advanced": "Devices and language", "form.audio": "Audio source",
    "form.video": "Video source", "form.audio.ph": "the room's microphone, a device here, or test", "form.video.ph": "the room's camera, a device here, or test",
    "form.language": "Language", "form.start": "Start recording", "form.starting": "Starting…",
    "form.hint": "One key starts audio, video and live transcription together.",
    "rec.recording": "Recording", "rec.stop": "Stop", "rec.stopping": "Stopping…", "rec.marker": "Bookmark this moment",
    "rec.marker.ph": "marker note (optional)", "rec.elapsed": "Elapsed", "rec.lag": "ASR lag", "rec.stopped": "Stopped",
    "rec.confirmStop": "Stop recording this interview?", "rec.markerSaved": "Marked {at}", "rec.alarm": "ALARM: recording interrupted",
    "console.placeholder": "Start an interview, or pick a recent one on the left to correct and export it",
    "recent.title": "Recent interviews", "recent.none": "None yet", "recent.open": "Correct", "recent.watch": "Watch live",
    "pl.transcript": "Transcript", "pl.version": "Version", "pl.latest": "latest", "pl.markers": "Markers",
    "pl.versions": "Versions", "pl.audit": "Audit trail", "pl.export": "Export", "pl.docx": "Record DOCX",
    "pl.reason": "Reason", "pl.reason.default": "manual correction",
    "pl.shortcuts": "Keys: Esc or Ctrl+Space play/pause, F1 back 2 s; click a line to play it, double-click or ✎ to edit, Enter saves.",
    "pl.edit": "Edit", "pl.save": "Save", "pl.cancel": "Cancel", "pl.saved": "Saved as version {v}",
    "pl.live": "LIVE", "pl.waitingVideo": "Waiting for video…", "pl.noMedia": "No recording yet",
    "pl.empty": "No transcript yet", "pl.follow": "Follow playback", "pl.diff": "Compare with previous",
    "pl.noMarkers": "No markers", "pl.readonly": "read-only",
    "pl.when": "When", "pl.actor": "Who", "pl.action": "Action", "pl.details": "Details", "pl.by": "Author",
    "pl.kind.asr": "speech recognition", "pl.kind.edit": "correction", "pl.verify": "Verify integrity",
    "pl.verify.ok": "intact", "pl.select": "Pick a search result or a session on the left to play it",
    "pl.partial": "(hearing…)",
    "search.q.ph": "Words, names or numbers, e.g. 仓库 or \"港口路\"", "search.go": "Search", "search.case": "Case",
    "search.speaker": "Speaker", "search.any": "any", "search.since": "From", "search.until": "To",
    "search.results": "Results", "search.count": "{n} hit(s) in {ms} ms", "search.none": "No match",
    "search.sessions": "All sessions", "search.live": "live",
    "search.sound": "同音", "search.sound.title": "Sounds the same, written otherwise: transcribed as “{w}”",
    "search.exact": "exact only", "search.exact.title": "Only where it is written the same: no sound-alikes",
    "spk.officer": "Officer", "spk.suspect": "Suspect",
    "status.recording": "recording", "status.finalising": "finalising", "status.complete": "complete",
    "status.failed": "failed",
    "import.title": "Import a recording", "import.go": "Upload and transcribe", "import.uploading": "Uploading…",
    "import.transcribing": "Uploaded; transcribing…", "import.done": "Imported as {id}",
    "err": "Error", "meta.case": "Case", "meta.room": "Room", "meta.officers": "Officers", "meta.suspect": "Questioned",
    "login.title": "Log in to xunlu", "login.username": "User name", "login.password": "Password", "login.go": "Log in",
    "login.hint": "Forgot the password, or the account is locked? Ask the administrator.",
    "login.wrong": "Wrong user name or password", "login.missing": "Enter the user name and the password",
  },
};

export function lang() {
  const saved = localStorage.getItem("xunlu.lang");
  return saved === "en" ? "en" : "zh";
}

export function t(key, vars = {}) {
  let s = TEXT[lang()][key] ?? TEXT.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

export function applyText(root = document) {
  document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
}

export function toggleLang() {
  localStorage.setItem("xunlu.lang", lang() === "en" ? "zh" : "en");
  applyText();
  document.dispatchEvent(new CustomEvent("xunlu:lang"));
}
