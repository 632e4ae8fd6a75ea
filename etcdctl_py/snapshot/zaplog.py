"""etcdutl's console logger (zap production config, console encoder) so our stderr matches its byte for byte.

Used by restore, defrag and backup. A line is `<time>\t<level>\t<caller>\t<message>\t{"k": v, ...}` (the
fields part left out when there are none); strings in the fields use zap's JSON escaping, which is Go's
without the HTML-safe escapes.
"""

from __future__ import annotations

import datetime
from typing import Protocol

from etcdctl_py.storage.membership import go_json_string


class TextSink(Protocol):
    """Where log lines go: a text stream, or anything else with write() and flush() (progress's pausing writer)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def zap_json_string(s: str) -> str:
    """zap's JSON string: quotes, backslash and control characters escaped, `<>&` and U+2028/9 kept."""
    return go_json_string(s, html_safe=False)


def zap_value(v: object) -> str:
    """A field value as zap's console encoder writes it: bools and ints bare, lists in brackets, else a string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(zap_value(x) for x in v) + "]"
    return zap_json_string(str(v))


class ZapLogger:
    """etcdutl's logger: RFC 3339 local time (seconds), level, caller, message, JSON-ish fields.

    `stream=None` discards everything (library use).
    """

    def __init__(self, stream: TextSink | None) -> None:
        self.stream = stream

    @staticmethod
    def timestamp() -> str:
        now = datetime.datetime.now().astimezone().replace(microsecond=0)
        s = now.isoformat()
        return s[:-6] + "Z" if now.utcoffset() == datetime.timedelta(0) else s

    def log(self, level: str, caller: str, msg: str, fields: dict | None = None) -> None:
        if self.stream is None:
            return
        line = f"{self.timestamp()}\t{level}\t{caller}\t{msg}"
        if fields:
            line += "\t{" + ", ".join(f"{zap_json_string(k)}: {zap_value(v)}" for k, v in fields.items()) + "}"
        self.stream.write(line + "\n")
        self.stream.flush()

    def info(self, caller: str, msg: str, fields: dict | None = None) -> None:
        self.log("info", caller, msg, fields)

    def warn(self, caller: str, msg: str, fields: dict | None = None) -> None:
        self.log("warn", caller, msg, fields)
