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
    "room_busy": ("这个讯问室正在录制另一次讯问，请先停止它或选择其他讯问室。",
                  "This room is already recording another interview; stop it first or choose another room."),
    # -- a session pushed from a room recorder to the centre (xunlu push) ------------------------------------
    "push_refused": ("中心拒绝接收这次讯问录像。", "The centre refuses this recording."),
    "push_bad_list": ("送来的文件清单与这次讯问的记录不符，未接收任何内容。",
                      "The list of files does not match the session's record; nothing was received."),
    "push_not_complete": ("只有已完成的讯问才能上传到中心。", "Only a finished session can be sent to the centre."),
    "push_unknown": ("没有这次上传（可能已经完成）。", "No such upload (it may be finished already)."),
    "push_offset": ("中心收到的位置与此不同，请从中心已收到的位置继续。",
                    "The centre has received a different amount; go on from where it has got to."),
    "push_unreachable": ("无法连接中心服务器，请稍后重新上传（会从中断处继续）。",
                         "The centre cannot be reached; send it again later (it goes on where it stopped)."),
    "push_committed": ("这次上传已经完成。", "This upload is finished already."),
    "push_too_long": ("送来的内容比清单所列的文件更长。", "More bytes were sent than the file's listed size."),
    "push_incomplete": ("还有文件没有传完，未接收。", "A file has not fully arrived; nothing was added."),
    "push_hash_mismatch": ("文件的校验值与清单不符，未接收。",
                           "A file's checksum differs from the list; nothing was added."),
    "push_bad_file": ("送来的笔录文件无法原样保存，未接收。",
                      "A transcript file cannot be kept exactly as sent; nothing was added."),
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
    "bad_search_backend": ("检索索引的配置有误，请联系系统管理员。",
                           "The search index is not set up correctly; ask the administrator."),
    # -- import --------------------------------------------------------------------------------------------
    "bad_input": ("文件无法读取：不是音视频文件，或没有音频。", "The file cannot be read: not a recording, or no audio."),
    "bad_upload": ("文件“{file}”无法读取：不是音视频文件，或没有音频。",
                   "The file “{file}” cannot be read: not a recording, or no audio."),
    "too_large": ("文件太大，超过本服务器允许的上限。", "The file is larger than this server accepts."),
    "duplicate": ("这个录像已经导入过：{session}。", "This recording is already in the archive: {session}."),
    "upload_empty": ("上传的文件是空的。", "The upload is empty."),
    "upload_truncated": ("上传中断，请重新上传。", "The upload was cut off; upload it again."),
    "upload_multipart": ("上传方式不对，请刷新页面后重试。", "The file was sent the wrong way; reload the page."),
    "unknown_job": ("没有这个任务（未配置任务队列时，服务器重启后任务记录会清空）。",
                    "No such job (without a job queue, jobs are forgotten when the server restarts)."),
    "bad_job_filter": ("任务筛选条件无效：类型只能是导入、转写、重建索引或预警，状态只能是排队、运行、完成或失败。",
                       "No such job filter: the kind is import, transcribe, reindex or warnings, and the state "
                       "queued, running, done or failed."),
    "job_queue_unavailable": ("任务队列暂时无法连接，请稍后再试或联系系统管理员。",
                              "The job queue cannot be reached; try again later or ask the administrator."),
    "worker_lost": ("处理该任务的工作进程意外停止，重试后仍未完成，请联系系统管理员。",
                    "The worker doing this job stopped, and it did not finish when tried again; ask the "
                    "administrator."),
    "worker_home": ("工作进程找不到上传的文件（与服务器不是同一个数据目录），请联系系统管理员。",
                    "The worker cannot find the upload (it does not share the server's home folder); ask the "
                    "administrator."),
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
    "bad_camera": ("摄像头设置有误：每个摄像头都要填写地址；名称 1-32 个字符，不能含引号、斜杠、逗号、等号，且不能重名；"
                   "一个讯问室最多 4 个摄像头；画面延迟最多 ±5 秒。",
                   "A camera cannot be used: each needs an address, and a name of 1-32 characters without quotes, "
                   "slashes, commas or '=', unlike the others'; a room has at most 4 cameras; a picture delay is at "
                   "most ±5 s."),
    "cameras_or_video": ("一个摄像头请填写视频源；两个以上摄像头请填写摄像头列表；二者不能同时填写。",
                         "Give one camera as the video source, or two or more as the list of cameras, not both."),
    "bad_pip": ("画中画设置有误：主画面和小画面须是这个讯问室的两个不同摄像头，位置为四角之一，小画面宽度在 0.1 到 0.6 "
                "之间，边距在 0 到 0.2 之间。",
                "The picture-in-picture cannot be used: the main picture and the inset must be two different cameras "
                "of the room, the position a corner, the inset's width from 0.1 to 0.6 and the margin from 0 to "
                "0.2."),
    "masked_password": ("摄像头地址中的密码已隐藏（***）：修改地址时请重新填写用户名和密码。",
                        "The camera address's password is hidden (***): type the user name and password again when "
                        "you change the address."),
    "unknown_timezone": ("没有这个时区：请用如 Asia/Shanghai 的时区名。",
                         "No such time zone: use a name like Asia/Shanghai."),
    # -- the import form and the 讯问笔录 (appended by the record/player work) -------------------------------
    "unknown_field": ("导入时填写了不认识的项目：{field}。", "The import has a field it does not know: {field}."),
    "bad_field": ("“{field}”填写有误：{value}。", "“{name}” cannot be used: {value}."),
    "pdf_unavailable": ("本服务器无法生成 PDF：请用打印预览页面打印或另存为 PDF。",
                        "This server cannot make PDFs: print the print view, or save it as PDF from the browser."),
    # -- supervision warnings' reasons (supervise/reasons.py; the rules store the Chinese text) ---------------
    "warn_rights_late": ("权利义务告知在 {at} 才宣读，应在开始后 {minutes} 分钟内",
                         "The rights notice was read only at {at}; it is due within {minutes} min of the start"),
    "warn_rights_incomplete": ("权利义务告知不全：只识别到 {found} 项（{said}），至少应有 {need} 项；请从 {at} 起核对",
                               "Rights notice incomplete: only {found} part(s) recognised ({said}), at least {need} "
                               "needed; check from {at}"),
    "warn_rights_not_yet": ("已讯问 {elapsed}，尚未宣读权利义务告知（应在开始后 {minutes} 分钟内）",
                            "Questioned for {elapsed} and the rights notice not read yet (due within {minutes} min "
                            "of the start)"),
    "warn_rights_missing": ("未发现权利义务告知（应在开始后 {minutes} 分钟内宣读）",
                            "No rights notice found (due within {minutes} min of the start)"),
    "warn_not_understood": ("权利义务告知后被讯问人表示没有听清/不明白（{at}），之后未见重新告知并确认",
                            "After the rights notice the person said they did not hear or understand it ({at}); it "
                            "was not read again and confirmed"),
    "warn_no_answer": ("权利义务告知（{at} 起）后 {seconds} 秒内未见被讯问人表示听清楚、明白",
                       "Within {seconds} s of the rights notice (from {at}) the person did not say they heard and "
                       "understood it"),
    "warn_too_few_officers": ("只登记了 {count} 名讯问人员（{names}），应至少 {min} 名：单人讯问",
                              "Only {count} questioning officer(s) registered ({names}); at least {min} are needed: "
                              "one officer questioning alone"),
    "warn_officer_silent": ("讯问人「{name}」的声道（第 {channel} 声道）整场没有讲话：麦克风未开或该讯问人不在场",
                            "Officer “{name}”'s channel (channel {channel}) was silent all session: the microphone "
                            "was off or the officer was not there"),
    "warn_continuous": ("连续讯问 {duration}，超过 {max} 小时上限",
                        "Questioned continuously for {duration}, over the {max} h limit"),
    "warn_continuous_since": ("连续讯问 {duration}（自 {first} 起，中间休息均少于 {rest} 分钟），超过 {max} 小时上限",
                              "Questioned continuously for {duration} (since {first}, every break shorter than "
                              "{rest} min), over the {max} h limit"),
    "warn_night": ("夜间讯问（{start}-{end}）{duration}，未记录夜间讯问的理由",
                   "Questioned at night ({start}-{end}) for {duration} with no reason recorded"),
    "warn_detention": ("被讯问人 {check_in} 进入办案中心，至本次讯问结束已 {duration}，超过 {max} 小时",
                       "The person entered the centre at {check_in}: {duration} by the end of this questioning, "
                       "over {max} h"),
    "warn_room_unknown": ("未登记讯问地点，无法确认是否为批准的讯问室",
                          "No place of questioning registered: it cannot be checked against the approved rooms"),
    "warn_room_not_approved": ("讯问地点「{room}」不在批准的讯问室名单中",
                               "The place of questioning “{room}” is not on the list of approved rooms"),
    "warn_signed_late": ("笔录在讯问结束 {duration} 后才确认签名，应在 {hours} 小时内",
                         "The record was confirmed signed {duration} after the questioning ended; due within "
                         "{hours} h"),
    "warn_unsigned": ("讯问结束已 {duration}，笔录仍未确认签名（应在 {hours} 小时内）",
                      "{duration} since the questioning ended and the record is not confirmed signed (due within "
                      "{hours} h)"),
    "warn_gap": ("{what}（录像 {at} 处）", "{what} (at {at} in the recording)"),
    "warn_gap_detail": ("{what}（录像 {at} 处）：{detail}", "{what} (at {at} in the recording): {detail}"),
    "warn_gap_discontinuity": ("录像在此处停止后又重新开始（播放列表中断标记）",
                               "The recording stopped here and started again (a break mark in the playlist)"),
    "warn_gap_missing": ("录像分段文件缺失", "A segment file of the recording is missing"),
    "warn_gap_sequence": ("录像分段编号不连续，有分段被删除或未写入",
                          "The recording's segment numbers jump: a segment was deleted or never written"),
    "warn_gap_source_lost": ("录制中信号源中断（期间无画面或无声音），已自动重连",
                             "The source was lost while recording (no picture or sound meanwhile) and reconnected"),
    "warn_gap_file": ("录像文件缺失：{path}", "A recording file is missing: {path}"),
    "warn_restart": ("与同一被讯问人的上一段录像 {previous} 相隔仅 {duration}：同一次讯问中停止录像后又重新开始",
                     "Only {duration} after the same person's previous recording {previous}: the recording was "
                     "stopped and started again within one questioning"),
    "warn_transcript_past_media": ("转写文字到 {last} 为止，但录像只有 {duration_clock}：文字与录像不同步或录像被截短",
                                   "The transcript runs to {last} but the recording is only {duration_clock} long: "
                                   "text and recording are out of step, or the recording was cut short"),
    "warn_no_transcript": ("有录像但没有转写文字", "There is a recording but no transcript"),
    "warn_partial_transcript": ("转写只覆盖到 {covered}，录像长 {duration_clock}：其后的录像没有转写",
                                "The transcript covers only up to {covered} of a {duration_clock} recording: the rest "
                                "is not transcribed"),
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
