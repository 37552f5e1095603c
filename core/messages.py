"""What a user reads when something is refused: one message per stable error code, in Chinese (the default)
and English. The HTTP API answers every error with {"detail", "code", "message"} (api/routes/errors.py), the
message in the language the request asks for (`Accept-Language`); pages show the message, scripts read the
code. Messages speak to the person at the page: no command-line flags, paths or API routes.

    language_of("en-US,en;q=0.9")           -> "en"
    message("no_source", "zh")              -> "没有可录制的音视频源：..."
    message("duplicate", "en", session="s-20261121-0001")
"""
from __future__ import annotations

from typing import Any, Optional

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# code -> (zh, en); {name} is filled from the error's params
MESSAGES: dict[str, tuple[str, str]] = {
    # -- any request ---------------------------------------------------------------------------------------
    "error": ("请求无法完成。", "The request cannot be done."),
    "internal_error": ("服务器内部错误，请联系系统管理员查看服务器日志。",
                       "Something went wrong on the server; ask the administrator to look at its log."),
    "invalid_request": ("请求内容不完整或格式不对。", "The request is incomplete or not in the expected form."),
    "bad_request": ("请求无法完成。", "The request cannot be done."),
    "login_required": ("请先登录。", "Please log in."),
    "login_expired": ("登录已失效，请重新登录。", "Your login has ended; please log in again."),
    "forbidden": ("无权进行此操作。", "You may not do this."),
    "not_found": ("没有找到：该讯问录像或内容不存在。", "Not found: no such recording or item."),
    "page_not_found": ("没有这个页面。", "There is no such page."),
    "method_not_allowed": ("不支持此操作。", "This operation is not supported here."),
    "conflict": ("操作与当前状态冲突，请刷新后再试。", "This clashes with the current state; refresh and try again."),
    "too_many_requests": ("请求过于频繁，请稍后再试。", "Too many requests; try again later."),
    "unsupported_type": ("不支持这种上传方式或文件类型。", "This kind of upload or file is not accepted."),
    "config_error": ("服务器配置文件有误，请联系系统管理员。",
                     "The server's configuration is wrong; ask the administrator."),
    "archive_error": ("无法完成对档案的操作。", "The archive cannot do this."),
    "disk_full": ("服务器磁盘空间不足，请联系系统管理员。", "The server's disk is full; ask the administrator."),
    "model_unavailable": ("语音识别模型无法加载，请联系系统管理员。",
                          "The speech model cannot be loaded; ask the administrator."),
    "index_unavailable": ("检索索引暂不可用，需要由管理员重建。",
                          "The search index is not available; the administrator must rebuild it."),
    "bad_range": ("无法读取录像的这一段。", "This part of the recording cannot be read."),
    "range_not_satisfiable": ("无法读取录像的这一段。", "This part of the recording cannot be read."),
    # -- logging in ----------------------------------------------------------------------------------------
    "login_refused": ("无法登录。", "You cannot log in."),
    "login_wrong": ("用户名或密码错误。", "Wrong user name or password."),
    "account_disabled": ("该账户已停用，请联系系统管理员。", "This account is disabled; ask the administrator."),
    "login_wait": ("登录失败次数过多，请 {seconds} 秒后再试，或请管理员解锁。",
                   "Too many failed logins; try again in {seconds} s, or ask the administrator to unlock it."),
    "login_not_json": ("登录请求格式不对，请刷新页面后重试。", "The login was not sent properly; reload the page."),
    "wrong_old_password": ("旧密码错误。", "The old password is wrong."),
    "unknown_login": ("没有这个登录。", "There is no such login."),
    # -- users (admin) -------------------------------------------------------------------------------------
    "account_error": ("无法完成对账户的操作。", "This cannot be done to the account."),
    "unknown_user": ("没有这个用户。", "There is no such user."),
    "not_allowed": ("无权进行此操作：需要另一人确认。", "You may not do this: a second person must."),
    "bad_name": ("名称“{name}”不可用：1-32 个字母、数字或汉字，可含 . - _，以字母、数字或汉字开头。",
                 "The name “{name}” cannot be used: 1-32 letters, digits or Chinese characters, with . - _, "
                 "starting with a letter, digit or character."),
    "name_reserved": ("名称“{name}”为系统保留。", "The name “{name}” is reserved."),
    "name_taken": ("名称“{name}”已被其他用户使用。", "The name “{name}” is already used by another user."),
    "unknown_role": ("没有这个角色：请选择办案民警、法制监督员或管理员。",
                     "No such role: choose officer, supervisor or administrator."),
    "last_admin": ("不能停用或撤销最后一个管理员。", "The last administrator cannot be disabled or re-roled."),
    "last_admin_password": ("不能在网页上重置最后一个管理员的密码，请在服务器上操作。",
                            "The last administrator's password cannot be reset here; do it on the server."),
    "password_too_short": ("密码太短：至少 {min} 个字符。", "The password is too short: at least {min} characters."),
    "password_too_long": ("密码太长：最多 {max} 个字符。", "The password is too long: at most {max} characters."),
    "password_spaces": ("密码不能以空格开头或结尾。", "The password must not start or end with a space."),
    "password_has_name": ("密码不能包含用户名。", "The password must not contain the user name."),
    "password_too_simple": ("密码太简单：至少使用 4 个不同的字符。",
                            "The password is too simple: use at least 4 different characters."),
    "nothing_pending": ("没有等待确认的授权。", "Nothing waits for confirmation."),
    "grant_changed": ("待确认的授权已变更，请刷新后再确认。", "The request changed meanwhile; refresh and look again."),
    # -- recording -----------------------------------------------------------------------------------------
    "bad_rtsp_transport": ("摄像头的 RTSP 传输方式只能是 auto、tcp、udp 或 udp_multicast。",
                           "A camera's RTSP transport must be auto, tcp, udp or udp_multicast."),
    "no_source": ("没有可录制的音视频源：请选择配置了设备的讯问室，或选择麦克风、摄像头或测试信号。",
                  "Nothing to record from: choose a room with devices, or a microphone, a camera or the test "
                  "signal."),
    "live_needs_language": ("实时转写需要指定语言（中文或英文），不能自动识别。",
                            "Live transcription needs a language (Chinese or English), not automatic detection."),
    "default_language_auto": ("请选择转写语言（中文或英文）：本服务器的默认语言是自动识别，实时转写不能使用。",
                              "Choose the language (Chinese or English): this server's default is automatic "
                              "detection, which live transcription cannot use."),
    "bad_option": ("所填的选项无法使用。", "An option has a value that cannot be used."),
    "bad_source": ("无法使用这个音视频源：设备不存在或无法打开。",
                   "This source cannot be used: the device does not exist or cannot be opened."),
    "source_refused": ("这个音视频源不在本服务器可用的设备中：请从列表中选择。",
                       "This source is not one this server offers: pick one from the list."),
    "speakers_mismatch": ("声道说话人的数量与音频的声道数不符。",
                          "The number of channel speakers does not match the audio channels."),
    "speakers_repeated": ("声道说话人中有重复的名字。", "A channel speaker is named twice."),
    "duration_not_positive": ("录制时长必须大于 0 秒。", "The duration must be more than 0 seconds."),
    "video_delay_range": ("摄像头延迟超出范围（最多 ±5 秒）。", "The camera delay is out of range (at most ±5 s)."),
    "video_delay_shared": ("音视频来自同一设备时不能设置摄像头延迟。",
                           "A camera delay applies only when audio and video come from separate devices."),
    "not_recording": ("这次讯问没有在录制中。", "This interview is not being recorded."),
    "recording_elsewhere": ("这次讯问正由另一个程序录制，请在那里停止。",
                            "This interview is being recorded by another program; stop it there."),
    "marker_needs_time": ("请给出标记的时间：这次讯问不在录制中。",
                          "Give the time of the marker: the interview is not being recorded."),
    "name_too_long": ("名字太长。", "A name is too long."),
    "media_missing": ("录像文件在档案中缺失，请联系系统管理员做完整性校验。",
                      "The recording is missing from the archive; ask the administrator to check its integrity."),
    "reason_required": ("请填写理由。", "Give a reason."),
    "unknown_status": ("没有这种状态。", "There is no such status."),
    # -- search --------------------------------------------------------------------------------------------
    "bad_query": ("检索词有误：引号或括号不成对，或没有要找的词。",
                  "The search cannot be read: unbalanced quotes or brackets, or nothing to look for."),
    "query_empty": ("请输入要检索的词。", "Type something to search for."),
    "since_after_until": ("开始日期晚于结束日期。", "The start date is after the end date."),
    "bad_date": ("日期格式不对，请用 年-月-日。", "That is not a date: use year-month-day."),
    "bad_sort": ("排序方式只能是相关度或时间。", "Sort by relevance or by time."),
    # -- import --------------------------------------------------------------------------------------------
    "bad_input": ("文件无法读取：不是音视频文件，或没有音频。", "The file cannot be read: not a recording, or no audio."),
    "bad_upload": ("文件“{file}”无法读取：不是音视频文件，或没有音频。",
                   "The file “{file}” cannot be read: not a recording, or no audio."),
    "too_large": ("文件太大，超过本服务器允许的上限。", "The file is larger than this server accepts."),
    "duplicate": ("这个录像已经导入过：{session}。", "This recording is already in the archive: {session}."),
    "upload_empty": ("上传的文件是空的。", "The upload is empty."),
    "upload_truncated": ("上传中断，请重新上传。", "The upload was cut off; upload it again."),
    "upload_multipart": ("上传方式不对，请刷新页面后重试。", "The file was sent the wrong way; reload the page."),
    "unknown_job": ("没有这个导入任务（服务器重启后任务记录会清空）。",
                    "No such import job (jobs are forgotten when the server restarts)."),
    # -- supervision and settings --------------------------------------------------------------------------
    "supervision_refused": ("这个时间不成立，或没有需要确认的内容。", "That time cannot be right, or nothing waits."),
    "rules_error": ("监督规则文件有误，请联系系统管理员。", "The rules file is wrong; ask the administrator."),
    "bad_setting": ("这个设置值无法使用。", "This setting cannot be used."),
    "unknown_room": ("没有这个讯问室。", "There is no such room."),
    "room_exists": ("已经有同名的讯问室。", "There is already a room with that name."),
    "bad_room": ("讯问室名称不可用：1-64 个字符，不能含引号或换行。",
                 "The room name cannot be used: 1-64 characters, no quotes or line breaks."),
    "bad_device": ("这个设备不能用：请选择本机的麦克风、摄像头或测试信号，或填写网络摄像机的地址（rtsp://…）。",
                   "This device cannot be used: pick a microphone or camera of this machine, the test signal, or a "
                   "network camera's address (rtsp://…)."),
    "unknown_timezone": ("没有这个时区：请用如 Asia/Shanghai 的时区名。",
                         "No such time zone: use a name like Asia/Shanghai."),
    # -- the import form and the 讯问笔录 (appended by the record/player work) -------------------------------
    "unknown_field": ("导入时填写了不认识的项目：{field}。", "The import has a field it does not know: {field}."),
    "bad_field": ("“{field}”填写有误：{value}。", "“{name}” cannot be used: {value}."),
    "pdf_unavailable": ("本服务器无法生成 PDF：请用打印预览页面打印或另存为 PDF。",
                        "This server cannot make PDFs: print the print view, or save it as PDF from the browser."),
}


def language_of(accept_language: Optional[str]) -> str:
    """The language to answer in, from an Accept-Language value (RFC 9110 12.5.4): the most preferred of zh
    and en (any zh-* counts as zh, en-* as en; q=0 refuses); Chinese when the header is absent or names
    neither."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, rest = item.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in LANGUAGES:
            continue
        q = 1.0
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:  # the first of equals wins: a list in order of preference
            best, best_q = base, q
    return best


def message(code: str, language: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """The message of `code` in `language` (zh or en), its {names} filled from `params`; the generic message
    for a code the catalogue does not know."""
    zh, en = MESSAGES.get(code) or MESSAGES["error"]
    text = en if language == "en" else zh
    try:
        return text.format_map(params)
    except (KeyError, IndexError, ValueError):
        return (MESSAGES["error"][1] if language == "en" else MESSAGES["error"][0])


def known(code: str) -> bool:
    return code in MESSAGES
