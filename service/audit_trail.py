"""The audit trail as people read it: who (by name, not login id), did what (in words, zh or en), to what,
when (on the centre's clock), filtered, and as CSV for a report. The entries themselves stay as the chain
holds them (`seq`, `actor`, `action`, `details`, hashes); a readable entry adds `actor_name`,
`action_label`, `target_label`, `summary` and `address`.

A transcript version made by speech recognition is credited to the system's ASR, not to the officer whose
login started the recording (the chain keeps that login in `actor`). For an administrator, who manages
accounts and never reads evidence, what an entry quotes of the evidence (a search's words, a marker's note,
the reason a warning was closed) is withheld (`withheld`).
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any, Iterable, Mapping, Optional

from archive.types import AuditEntry

ASR_ACTOR = ("系统（语音识别）", "System (speech recognition)")

# action -> (zh, en)
ACTIONS: dict[str, tuple[str, str]] = {
    "session.create": ("新建讯问录像", "Recording created"),
    "session.update": ("修改讯问信息", "Session details changed"),
    "session.set": ("填写讯问信息", "Session details set"),
    "session.propose": ("提交待确认信息", "Details proposed"),
    "session.confirm": ("确认讯问信息", "Details confirmed"),
    "session.reject": ("退回讯问信息", "Details rejected"),
    "session.sign": ("笔录确认签名", "Record signed"),
    "session.view": ("查看讯问录像", "Session viewed"),
    "session.list": ("查看讯问列表", "Session list viewed"),
    "session.live.view": ("观看直播", "Live watched"),
    "session.failed": ("录制失败", "Recording failed"),
    "session.recovered": ("中断后恢复录像", "Recording recovered"),
    "session.stop.request": ("请求停止录制", "Stop requested"),
    "record.start": ("开始录音录像", "Recording started"),
    "record.stop": ("停止录音录像", "Recording stopped"),
    "record.complete": ("录制完成", "Recording complete"),
    "record.failed": ("录制出错", "Recording error"),
    "record.alarm": ("录制告警", "Recording alarm"),
    "record.source_lost": ("信号源中断", "Source lost"),
    "record.gap": ("录像中断记录", "Recording gap"),
    "record.asr_restart": ("实时转写进程重启", "Live transcription restarted"),
    "session.pushed": ("上传至中心", "Sent to the centre"),
    "session.received": ("接收讯问室上传", "Received from a room"),
    "push.begin": ("开始接收上传", "Receiving started"),
    "push.repeated": ("重复上传（已存在）", "Sent again (already held)"),
    "push.rejected": ("拒收上传文件", "Upload refused"),
    "media.add": ("存入录像文件", "Media stored"),
    "media.view": ("播放录像", "Recording played"),
    "media.original": ("下载原始文件", "Original downloaded"),
    "media.playable": ("生成播放文件", "Playable copy made"),
    "transcript.version": ("保存转写版本", "Transcript version saved"),
    "transcript.view": ("查看转写", "Transcript viewed"),
    "transcript.versions": ("查看版本记录", "Versions viewed"),
    "transcript.diff": ("比较转写版本", "Versions compared"),
    "transcript.reproduced": ("复现转写", "Transcript reproduced"),
    "marker": ("标记时刻", "Moment marked"),
    "marker.list": ("查看标记", "Markers viewed"),
    "import": ("导入外部录像", "Recording imported"),
    "import.failed": ("导入失败", "Import failed"),
    "export": ("导出笔录", "Record exported"),
    "search": ("检索", "Search"),
    "reindex": ("重建检索索引", "Index rebuilt"),
    "verify": ("完整性校验", "Integrity check"),
    "audit.read": ("查看审计记录", "Audit trail read"),
    "audit.export": ("导出审计记录", "Audit trail exported"),
    "audit.anchor": ("审计链锚定", "Audit chain anchored"),
    "chain.keyed": ("审计链启用密钥", "Audit chain keyed"),
    "catalog.baseline": ("目录基线", "Catalog baseline"),
    "warning.close": ("关闭预警", "Warning closed"),
    "warnings.refresh": ("刷新预警", "Warnings refreshed"),
    "warnings.summary": ("生成每日预警汇总", "Daily warning summary"),
    "auth.login": ("登录", "Logged in"),
    "auth.logout": ("退出登录", "Logged out"),
    "auth.login_failed": ("登录失败", "Login failed"),
    "auth.backoff": ("登录受限", "Login slowed down"),
    "auth.denied": ("越权访问被拒绝", "Access denied"),
    "auth.revoke": ("注销登录", "Login revoked"),
    "user.add": ("新增用户", "User added"),
    "user.disable": ("停用用户", "User disabled"),
    "user.enable": ("启用用户", "User enabled"),
    "user.unlock": ("解除锁定", "User unlocked"),
    "user.passwd": ("重置密码", "Password set"),
    "user.role": ("变更角色", "Role changed"),
    "user.confirm": ("确认授权", "Role confirmed"),
    "config.room": ("修改讯问室设置", "Room settings changed"),
    "config.cameras_found": ("在网络上查找摄像头", "Cameras searched for on the network"),
    "config.centre": ("修改中心时区", "Centre time zone changed"),
}

# details key -> (zh, en); keys not listed are shown by name; SKIP never (hashes, ids of records)
KEYS: dict[str, tuple[str, str]] = {
    "case_id": ("案件", "case"), "case": ("案件", "case"), "room": ("地点", "room"),
    "officers": ("讯问人", "officers"), "suspect": ("被讯问人", "questioned"), "unit": ("单位", "unit"),
    "kind": ("类型", "kind"), "reason": ("原因", "reason"), "model": ("模型", "model"),
    "format": ("格式", "format"), "version": ("版本", "version"), "role": ("角色", "role"),
    "ok": ("结果", "result"), "problems": ("问题", "problems"), "entries": ("条数", "entries"),
    "sessions": ("讯问录像数", "sessions"), "at": ("位置（秒）", "at (s)"), "label": ("说明", "note"),
    "query": ("检索词", "words"), "speaker": ("说话人", "speaker"), "source": ("来源", "source"),
    "status": ("状态", "status"), "duration": ("时长（秒）", "duration (s)"), "error": ("错误", "error"),
    "wait": ("等待（秒）", "wait (s)"), "failures": ("失败次数", "failures"), "path": ("路径", "path"),
    "requested_by": ("申请人", "asked by"), "channels": ("声道", "channels"), "video": ("视频", "video"),
    "action": ("操作", "action"), "actor": ("操作人", "user"), "since": ("从", "from"), "until": ("到", "to"),
    "timezone": ("时区", "time zone"), "audio": ("音频", "audio"), "name": ("名称", "name"),
    "display_name": ("姓名", "name"), "hits": ("结果数", "hits"), "segments": ("句数", "segments"),
    "message": ("内容", "message"), "day": ("日期", "day"), "warnings": ("预警数", "warnings"),
    "speakers": ("声道说话人", "channel speakers"), "started_at": ("开始时间", "started"),
    "check_in_at": ("进入办案中心", "checked in"), "signed_at": ("签名时间", "signed"),
    "night_reason": ("夜间讯问理由", "night reason"), "before": ("原值", "was"), "removed": ("已删除", "removed"),
    "language": ("语言", "language"), "new": ("新增", "new"), "resolved": ("已消除", "resolved"),
    "open": ("未处理", "open"), "rules": ("规则文件", "rules file"),
}
SKIP = {"sha256", "parent", "login", "address", "method", "record", "bound", "prev_hash", "hash", "size"}
CONTENT = {"search": ("query",), "marker": ("label",), "warning.close": ("reason",)}
VALUES: dict[str, tuple[str, str]] = {
    "asr": ("语音识别", "speech recognition"), "edit": ("人工修改", "correction"), "live": ("实时转写", "live"),
    "import": ("导入", "import"), "officer": ("办案民警", "officer"), "supervisor": ("法制监督员", "supervisor"),
    "admin": ("管理员", "administrator"), "pending": ("待确认", "pending"),
    "original": ("原始文件", "original"), "playable": ("播放文件", "playable copy"),
    "suspect": ("被讯问人", "questioned"),
}
HEADERS = {"zh": ("序号", "时间", "操作人", "账户", "操作", "操作代码", "对象", "内容", "地址"),
           "en": ("seq", "time", "user", "account", "action", "action code", "target", "details", "address")}


@dataclass(frozen=True)
class AuditFilter:
    session: Optional[str] = None     # entries on this session (its versions, warnings... included)
    action: Optional[str] = None      # an action (user.add), or a family: "user" or "user.*"
    actor: Optional[str] = None       # a user name, a display name (张三) or a full actor (web:zhangsan)
    since: Optional[datetime] = None  # naive, on the centre's clock
    until: Optional[datetime] = None
    limit: int = 500                  # the newest this many


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def action_label(action: str, lang: str = "zh") -> str:
    pair = ACTIONS.get(action)
    return _pick(pair, lang) if pair else action


def action_labels(lang: str = "zh") -> dict[str, str]:
    return {a: _pick(p, lang) for a, p in ACTIONS.items()}


def local_time(at: str, zone: Optional[tzinfo]) -> Optional[datetime]:
    """An entry's time on the centre's clock (naive), None when it does not parse."""
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if when.tzinfo is not None and zone is not None:
        when = when.astimezone(zone)
    return when.replace(tzinfo=None)


def _is_asr(entry: AuditEntry) -> bool:
    return entry.action == "transcript.version" and (entry.details or {}).get("kind") == "asr"


def actor_name(actor: str, names: Mapping[str, str], lang: str = "zh") -> str:
    """web:zhangsan -> 张三 (the display name, else the login); system:root -> 系统（服务器 root）."""
    kind, _, who = actor.partition(":")
    if kind == "web" and who:
        return names.get(who.casefold(), who)
    if kind == "system":
        base = "System" if lang == "en" else "系统"
        return f"{base} ({who})" if who and lang == "en" else (f"{base}（{who}）" if who else base)
    if actor == "anonymous":
        return "not logged in" if lang == "en" else "未登录用户"
    return actor


def _target_label(target: str, names: Mapping[str, str], lang: str) -> str:
    if target.startswith("users/"):
        who = target[len("users/"):]
        shown = names.get(who.casefold(), who)
        return shown if shown == who else f"{shown} ({who})"
    if target == "*":
        return "all" if lang == "en" else "全部"
    sid, _, rest = target.partition("/")
    if rest.startswith("v") and rest[1:].isdigit():
        return f"{sid} v{rest[1:]}" if lang == "en" else f"{sid} 第 {rest[1:]} 版"
    return target


def _value(value: Any, lang: str, zone: Optional[tzinfo] = None) -> str:
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        when = local_time(value, zone)   # a time: on the centre's clock
        if when is not None:
            return when.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
    if isinstance(value, (list, tuple)):
        return ("，" if lang != "en" else ", ").join(_value(v, lang) for v in value)
    if isinstance(value, dict):   # nested: "seq 0, hash 000000000000…", never JSON
        return ", ".join(f"{k} {_value(v, lang, zone)}" for k, v in value.items() if k not in ("record",))
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"   # a SHA-256
    if isinstance(value, str) and value in VALUES:
        return _pick(VALUES[value], lang)
    return str(value)


def summary(entry: AuditEntry, lang: str = "zh", withheld: Iterable[str] = (), zone: Optional[tzinfo] = None) -> str:
    """The entry's details in words: "原因：实时转写；版本：1"; an integrity check: intact / altered."""
    details = entry.details or {}
    if entry.action == "verify" and "ok" in details:
        ok = details.get("ok")
        head = ("intact" if ok else "ALTERED") if lang == "en" else ("完整" if ok else "已被改动")
        problems = details.get("problems") or 0
        return head + (f" ({problems} problem(s))" if lang == "en" else f"（{problems} 处问题）") * bool(problems)
    parts = []
    for key, value in details.items():
        if key in SKIP or value in (None, "", [], {}):
            continue
        label = _pick(KEYS[key], lang) if key in KEYS else key
        shown = ("[withheld]" if lang == "en" else "〔不显示〕") if key in withheld else _value(value, lang, zone)
        parts.append(f"{label}: {shown}" if lang == "en" else f"{label}：{shown}")
    return ("; " if lang == "en" else "；").join(parts)


def readable(entry: AuditEntry, names: Mapping[str, str], lang: str = "zh", for_admin: bool = False,
             zone: Optional[tzinfo] = None) -> dict:
    """The entry as the chain holds it, plus the words a page shows (times in them on the centre's clock,
    `zone`). `for_admin`: evidence withheld."""
    withheld = CONTENT.get(entry.action, ()) if for_admin else ()
    row = asdict(entry)
    details = dict(entry.details or {})
    if withheld:
        row["details"] = {k: v for k, v in details.items() if k not in withheld}
        row["withheld"] = [k for k in withheld if k in details]
    row["actor_name"] = _pick(ASR_ACTOR, lang) if _is_asr(entry) else actor_name(entry.actor, names, lang)
    row["action_label"] = action_label(entry.action, lang)
    row["target_label"] = _target_label(entry.target or "", names, lang)
    row["summary"] = summary(entry, lang, withheld, zone)
    row["address"] = details.get("address")
    return row


def _actors(who: str, names: Mapping[str, str]) -> set[str]:
    """The logins a filter's user stands for: the login itself and every login with that display name."""
    key = who.casefold()
    return {key} | {login for login, shown in names.items() if shown.casefold() == key}


def _by_actor(who: str, actor: str, logins: set[str]) -> bool:
    if actor == who:
        return True
    kind, _, name = actor.partition(":")
    return bool(name) and name.casefold() in logins


def _by_action(wanted: str, action: str) -> bool:
    family = wanted[:-2] if wanted.endswith(".*") else wanted
    return action == wanted or action.startswith(family + ".") or (family == action)


def select(entries: Iterable[AuditEntry], f: AuditFilter, names: Mapping[str, str],
           zone: Optional[tzinfo]) -> list[AuditEntry]:
    """The entries that pass the filter, oldest first, the newest `f.limit` of them."""
    logins = _actors(f.actor, names) if f.actor else set()
    found = []
    for e in entries:
        if f.action and not _by_action(f.action, e.action):
            continue
        if f.actor and not _by_actor(f.actor, e.actor, logins):
            continue
        if f.since or f.until:
            when = local_time(e.at, zone)
            if when is None or (f.since and when < f.since) or (f.until and when > f.until):
                continue
        found.append(e)
    return found[-f.limit:] if f.limit else found


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], lang: str, zone: Optional[tzinfo]) -> str:
    """Readable rows as CSV (a byte order mark first, so that spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS["en" if lang == "en" else "zh"])
    for r in rows:
        when = local_time(r["at"], zone)
        writer.writerow([_cell(v) for v in (
            r["seq"], when.strftime("%Y-%m-%d %H:%M:%S") if when else r["at"], r["actor_name"], r["actor"],
            r["action_label"], r["action"], r["target_label"], r["summary"], r.get("address") or "")])
    return out.getvalue()
