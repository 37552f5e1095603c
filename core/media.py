"""Which media containers the project opens, and how. An uploaded or imported file is opened only by
demuxers of real recordings: a playlist (HLS), a concat list, an image sequence or a subtitle file could make
FFmpeg open other files on the server, so those demuxers are never allowed (FFmpeg's format_whitelist, for
PyAV and for the ffmpeg/ffprobe commands alike), and only the local file protocol."""
from __future__ import annotations

# FFmpeg demuxer names (a demuxer is allowed when one of its comma-separated names is listed)
RECORDING_FORMATS = ("wav", "w64", "mp3", "flac", "ogg", "mov", "matroska", "webm", "mpegts", "aac", "amr",
                     "asf", "avi", "aiff", "caf", "m4a", "mp4")
FORMAT_WHITELIST = ",".join(RECORDING_FORMATS)


def av_options() -> dict[str, str]:
    """Options for `av.open` on a recording file."""
    return {"format_whitelist": FORMAT_WHITELIST, "protocol_whitelist": "file"}


def ffmpeg_input_args() -> list[str]:
    """ffmpeg/ffprobe options that go before `-i FILE` of a recording file."""
    return ["-format_whitelist", FORMAT_WHITELIST, "-protocol_whitelist", "file"]
