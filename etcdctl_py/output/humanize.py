"""Go's `time.Duration.String()` under its old name, for cli/endpoint.py (`took`) until that import moves to
etcdctl_py.gofmt.format_duration, the one home of the rule; then this module goes."""

from __future__ import annotations

from etcdctl_py.gofmt import format_duration as go_duration

__all__ = ["go_duration"]
