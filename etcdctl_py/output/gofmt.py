"""Moved to `etcdctl_py.gofmt` (the bottom layer, so storage/server/v2client can use it too)."""

from etcdctl_py.gofmt import (  # noqa: F401
    format_duration,
    json_string,
    parse_bool,
    parse_duration,
    parse_int,
    quote,
    unquote,
)
