"""`-w json`: what Go's encoding/json prints for etcd's generated structs.

Not protobuf-JSON: every zero field is omitted (omitempty), bytes are base64, 64-bit integers
are bare numbers, enums are numbers, keys are the proto field names in declaration order, and a
oneof becomes `{"<OneofName>":{"<field>":...}}` like the Go interface field.
"""

from __future__ import annotations

import base64
from typing import Any

from etcdctl_py.output.gofmt import json_string
from etcdctl_py.output.printer import Printer

_FD = None  # google.protobuf.descriptor.FieldDescriptor, imported on first use


def _go_name(oneof_name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in oneof_name.split("_"))


def _scalar(fd: Any, v: Any) -> str:
    t = fd.type
    if t == _FD.TYPE_BYTES:
        return '"' + base64.b64encode(v).decode() + '"'
    if t == _FD.TYPE_STRING:
        return json_string(v)
    if t == _FD.TYPE_BOOL:
        return "true" if v else "false"
    if t in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT):
        return repr(v)
    return str(int(v))


def _is_zero(fd: Any, v: Any) -> bool:
    return not v


def encode(msg: Any) -> str:
    """Go encoding/json of a generated etcd struct (all fields omitempty)."""
    global _FD
    if _FD is None:
        from google.protobuf.descriptor import FieldDescriptor

        _FD = FieldDescriptor
    parts: list[str] = []
    seen_oneofs: set[str] = set()
    for fd in msg.DESCRIPTOR.fields:
        oneof = fd.containing_oneof
        if oneof is not None:
            if oneof.name in seen_oneofs:
                continue
            seen_oneofs.add(oneof.name)
            which = msg.WhichOneof(oneof.name)
            if which is None:
                parts.append(f'"{_go_name(oneof.name)}":null')
                continue
            sub = oneof.fields_by_name[which] if hasattr(oneof, "fields_by_name") else msg.DESCRIPTOR.fields_by_name[which]
            val = getattr(msg, which)
            inner = encode(val) if sub.type == _FD.TYPE_MESSAGE else _scalar(sub, val)
            parts.append(f'"{_go_name(oneof.name)}":{{"{which}":{inner}}}')
            continue
        v = getattr(msg, fd.name)
        if fd.is_repeated:
            if not v:
                continue
            if fd.type == _FD.TYPE_MESSAGE:
                items = ",".join(encode(x) for x in v)
            else:
                items = ",".join(_scalar(fd, x) for x in v)
            parts.append(f'"{fd.name}":[{items}]')
        elif fd.type == _FD.TYPE_MESSAGE:
            if msg.HasField(fd.name):
                parts.append(f'"{fd.name}":{encode(v)}')
        elif not _is_zero(fd, v):
            parts.append(f'"{fd.name}":{_scalar(fd, v)}')
    return "{" + ",".join(parts) + "}"


class JSONPrinter(Printer):
    name = "json"

    def message(self, msg: Any) -> None:
        self.line(encode(msg))

    def get(self, resp: Any, *, value_only: bool = False) -> None:
        self.message(resp)

    put = delete = txn = message
