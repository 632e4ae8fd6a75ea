"""JSON <-> protobuf as etcd 3.5.1's grpc-gateway does it, with its exact texts.

etcd's gateway (grpc-gateway v1.16's JSONPb with OrigName) decodes a request with golang/protobuf 1.5's jsonpb on
top of Go's encoding/json, and marshals replies with the same jsonpb. protobuf's own json_format differs in what
it accepts and in every error text, so this is a small port of the rules that matter:

- parse(): encoding/json's scanner (json.Decoder reading one value, json.Unmarshal checking all of it), raising
  GoJSONError with Go's messages ("invalid character 'x' looking for beginning of value", "unexpected EOF", ...).
- to_message(): jsonpb's unmarshalMessage: unknown fields ignored, proto and camelCase names, "null" skipped,
  64-bit integers in strings or not, bytes as standard base64, enums by name or number, Go's type errors.
- to_json(): jsonpb's Marshal: fields in declaration order, zero scalars omitted, set messages always written,
  64-bit integers as strings, bytes base64, enums by name, strings escaped as Go's json.Marshal does.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor as FD  # type: ignore[import-untyped]  # no stubs
from google.protobuf.message import Message  # type: ignore[import-untyped]  # protobuf ships no stubs

from etcdctl_py.gofmt import json_string
from etcdctl_py.gofmt import quote as go_quote
from etcdctl_py.protofields import fields_in_order


class GoJSONError(ValueError):
    """An encoding/json (or jsonpb) error; str() is Go's err.Error()."""


class EmptyBody(Exception):
    """json.Decoder found nothing but white space: io.EOF, which the gateway takes as an empty request."""


_WS = b" \t\r\n"


def quote_char(c: int) -> str:
    """encoding/json's quoteChar for the byte `c` (Go turns a byte into the rune of the same number)."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(c))[1:-1] + "'"


@dataclass
class Node:
    """One JSON value: kind is object, array, string, number, bool or null; raw is its exact text."""

    kind: str
    raw: bytes
    value: Any  # dict[str, Node] (last duplicate wins), list[Node], str, number text, bool or None


class _Eof(Exception):
    """The input ended inside a value."""


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _peek(self) -> int:
        if self.pos >= len(self.data):
            raise _Eof
        return self.data[self.pos]

    def _ws(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] in _WS:
            self.pos += 1

    def _bad(self, context: str) -> GoJSONError:
        return GoJSONError(f"invalid character {quote_char(self.data[self.pos])} {context}")

    def value(self, context: str = "looking for beginning of value") -> Node:
        self._ws()
        c = self._peek()
        start = self.pos
        if c == ord("{"):
            v: Any = self._object()
            kind = "object"
        elif c == ord("["):
            v = self._array()
            kind = "array"
        elif c == ord('"'):
            v = self._string()
            kind = "string"
        elif c == ord("-") or ord("0") <= c <= ord("9"):
            v = self._number()
            kind = "number"
        elif c in b"tfn":
            lit = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}[c]
            self._literal(lit)
            v, kind = {"true": (True, "bool"), "false": (False, "bool"), "null": (None, "null")}[lit]
        else:
            raise self._bad(context)
        return Node(kind, self.data[start : self.pos], v)

    def _literal(self, lit: str) -> None:
        self.pos += 1
        for expect in lit[1:]:
            c = self._peek()
            if c != ord(expect):
                raise self._bad(f"in literal {lit} (expecting {quote_char(ord(expect))})")
            self.pos += 1

    def _object(self) -> dict[str, Node]:
        self.pos += 1
        out: dict[str, Node] = {}
        self._ws()
        if self._peek() == ord("}"):
            self.pos += 1
            return out
        while True:
            self._ws()
            if self._peek() != ord('"'):
                raise self._bad("looking for beginning of object key string")
            key = self._string()
            self._ws()
            if self._peek() != ord(":"):
                raise self._bad("after object key")
            self.pos += 1
            out[key] = self.value()
            self._ws()
            c = self._peek()
            self.pos += 1
            if c == ord("}"):
                return out
            if c != ord(","):
                self.pos -= 1
                raise self._bad("after object key:value pair")

    def _array(self) -> list[Node]:
        self.pos += 1
        out: list[Node] = []
        self._ws()
        if self._peek() == ord("]"):
            self.pos += 1
            return out
        while True:
            out.append(self.value())
            self._ws()
            c = self._peek()
            self.pos += 1
            if c == ord("]"):
                return out
            if c != ord(","):
                self.pos -= 1
                raise self._bad("after array element")

    def _string(self) -> str:
        self.pos += 1
        start = self.pos
        while True:
            c = self._peek()
            if c == ord('"'):
                self.pos += 1
                return _unquote(self.data[start : self.pos - 1])
            if c == ord("\\"):
                self.pos += 1
                e = self._peek()
                if e == ord("u"):
                    for _ in range(4):
                        self.pos += 1
                        if self._peek() not in b"0123456789abcdefABCDEF":
                            raise self._bad("in \\u hexadecimal character escape")
                elif e not in b'"\\/bfnrt':
                    raise self._bad("in string escape code")
            elif c < 0x20:
                raise self._bad("in string literal")
            self.pos += 1

    def _digits(self) -> None:
        while self.pos < len(self.data) and ord("0") <= self.data[self.pos] <= ord("9"):
            self.pos += 1

    def _number(self) -> str:
        start = self.pos
        if self.data[self.pos] == ord("-"):
            self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._bad("in numeric literal")
        if self._peek() == ord("0"):
            self.pos += 1
        else:
            self._digits()
        if self.pos < len(self.data) and self.data[self.pos] == ord("."):
            self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._bad("after decimal point in numeric literal")
            self._digits()
        if self.pos < len(self.data) and self.data[self.pos] in b"eE":
            self.pos += 1
            if self._peek() in b"+-":
                self.pos += 1
            if not ord("0") <= self._peek() <= ord("9"):
                raise self._bad("in exponent of numeric literal")
            self._digits()
        return self.data[start : self.pos].decode()


def _unquote(body: bytes) -> str:
    """encoding/json's unquote of a scanned string's inside: escapes, invalid UTF-8 and lone surrogates as U+FFFD."""
    out: list[str] = []
    i = 0
    simple = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b", ord("f"): "\f", ord("n"): "\n"}
    simple.update({ord("r"): "\r", ord("t"): "\t"})
    run = bytearray()
    while i < len(body):
        c = body[i]
        if c != ord("\\"):
            run.append(c)
            i += 1
            continue
        out.append(run.decode("utf-8", "replace"))
        run = bytearray()
        e = body[i + 1]
        if e != ord("u"):
            out.append(simple[e])
            i += 2
            continue
        r = int(body[i + 2 : i + 6], 16)
        i += 6
        if 0xD800 <= r < 0xDC00 and body[i : i + 2] == b"\\u":
            r2 = int(body[i + 2 : i + 6], 16)
            if 0xDC00 <= r2 < 0xE000:
                out.append(chr(0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)))
                i += 6
                continue
        out.append("\ufffd" if 0xD800 <= r < 0xE000 else chr(r))
    out.append(run.decode("utf-8", "replace"))
    return "".join(out)


def decode_first(data: bytes) -> Node:
    """json.Decoder.Decode of a body: its first value (what follows is never read). EmptyBody for white space
    only, "unexpected EOF" for a value cut short."""
    p = _Parser(data)
    p._ws()
    if p.pos >= len(data):
        raise EmptyBody
    try:
        return p.value()
    except _Eof:
        raise GoJSONError("unexpected EOF") from None


def decode_stream(data: bytes) -> tuple[list[Node], GoJSONError | None]:
    """json.Decoder.Decode called until it fails: the values a streamed body holds, and the error that ended them
    (None at a clean end)."""
    p = _Parser(data)
    out: list[Node] = []
    while True:
        p._ws()
        if p.pos >= len(data):
            return out, None
        try:
            out.append(p.value())
        except _Eof:
            return out, GoJSONError("unexpected EOF")
        except GoJSONError as e:
            return out, e


def unmarshal(data: bytes) -> Node:
    """json.Unmarshal's parse: the whole input must be one value."""
    p = _Parser(data)
    try:
        node = p.value()
    except _Eof:
        raise _end_of_input(data) from None
    p._ws()
    if p.pos < len(data):
        raise p._bad("after top-level value")
    return node


def _end_of_input(data: bytes) -> GoJSONError:
    """What json.Unmarshal says when `data` ends inside a value: its scanner steps one space at the end, so a
    literal or number cut short is an invalid ' ' in it, anything else "unexpected end of JSON input"."""
    try:
        _Parser(data + b" ").value()
    except GoJSONError as e:
        return e
    except _Eof:
        pass
    return GoJSONError("unexpected end of JSON input")


def _type_error(value: str, gotype: str) -> GoJSONError:
    return GoJSONError(f"json: cannot unmarshal {value} into Go value of type {gotype}")


_INTS = {
    FD.TYPE_INT32: ("int32", -(1 << 31), (1 << 31) - 1),
    FD.TYPE_SINT32: ("int32", -(1 << 31), (1 << 31) - 1),
    FD.TYPE_SFIXED32: ("int32", -(1 << 31), (1 << 31) - 1),
    FD.TYPE_INT64: ("int64", -(1 << 63), (1 << 63) - 1),
    FD.TYPE_SINT64: ("int64", -(1 << 63), (1 << 63) - 1),
    FD.TYPE_SFIXED64: ("int64", -(1 << 63), (1 << 63) - 1),
    FD.TYPE_UINT32: ("uint32", 0, (1 << 32) - 1),
    FD.TYPE_FIXED32: ("uint32", 0, (1 << 32) - 1),
    FD.TYPE_UINT64: ("uint64", 0, (1 << 64) - 1),
    FD.TYPE_FIXED64: ("uint64", 0, (1 << 64) - 1),
}
_INT64_KINDS = (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64, FD.TYPE_UINT64, FD.TYPE_FIXED64)


def _trim_quote(raw: bytes) -> bytes:
    return raw[1:-1] if len(raw) >= 2 and raw[:1] == b'"' and raw[-1:] == b'"' else raw


def _go_int(raw: bytes, gotype: str, lo: int, hi: int) -> int:
    """json.Unmarshal of `raw` into a Go integer (null leaves it zero)."""
    node = unmarshal(raw)
    if node.kind == "null":
        return 0
    if node.kind != "number":
        return _raise(_type_error(node.kind, gotype))
    text = node.value
    try:
        n = int(text)
    except ValueError:
        raise _type_error("number " + text, gotype) from None
    if not lo <= n <= hi:
        raise _type_error("number " + text, gotype)
    return n


def _raise(e: Exception) -> Any:
    raise e


def _go_bytes(node: Node) -> bytes:
    """json.Unmarshal into []byte: standard base64 with padding (CR and LF skipped), or an array of uint8."""
    if node.kind == "null":
        return b""
    if node.kind == "array":
        return bytes(_go_int(el.raw, "uint8", 0, 255) for el in node.value)
    if node.kind != "string":
        raise _type_error(node.kind, "[]uint8")
    bad = _bad_base64_at(node.value)
    if bad is not None:
        raise GoJSONError(f"illegal base64 data at input byte {bad}")
    return base64.b64decode(node.value.replace("\r", "").replace("\n", "").encode("ascii"))


_B64 = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _bad_base64_at(text: str) -> int | None:
    """base64.StdEncoding.Decode's CorruptInputError offset for `text`, None when it decodes (a port of Go's
    decodeQuantum: CR and LF skipped, padding checked, trailing data refused)."""
    src = text.encode("utf-8")
    si = 0
    while True:
        j = 0
        while j < 4:
            if si == len(src):
                if j == 0:
                    return None
                return si - j
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in b"\r\n":
                continue
            if c != ord("="):
                return si - 1
            if j < 2:
                return si - 1
            if j == 2:
                while si < len(src) and src[si] in b"\r\n":
                    si += 1
                if si == len(src):
                    return len(src)
                if src[si] != ord("="):
                    return si - 1
                si += 1
            while si < len(src) and src[si] in b"\r\n":
                si += 1
            return si if si < len(src) else None


def _go_string(node: Node) -> str:
    if node.kind == "null":
        return ""
    if node.kind != "string":
        raise _type_error(node.kind, "string")
    return str(node.value)


def _go_bool(node: Node) -> bool:
    if node.kind == "null":
        return False
    if node.kind != "bool":
        raise _type_error(node.kind, "bool")
    return bool(node.value)


def _go_float(raw: bytes, bits: int) -> float:
    node = unmarshal(raw)
    gotype = f"float{bits}"
    if node.kind == "null":
        return 0.0
    if node.kind != "number":
        raise _type_error(node.kind, gotype)
    f = float(node.value)
    if math.isinf(f) or (bits == 32 and abs(f) > 3.4028234663852886e38):
        raise _type_error("number " + node.value, gotype)
    return f


def _scalar(fd: FD, node: Node) -> Any:
    """jsonpb's unmarshalSingularValue for a non-message field."""
    t = fd.type
    if t in _INTS:
        gotype, lo, hi = _INTS[t]
        return _go_int(_trim_quote(node.raw), gotype, lo, hi)
    if t == FD.TYPE_BOOL:
        return _go_bool(node)
    if t == FD.TYPE_STRING:
        return _go_string(node)
    if t == FD.TYPE_BYTES:
        return _go_bytes(node)
    if t == FD.TYPE_ENUM:
        if node.kind == "string" and len(node.raw) >= 2:
            name = _trim_quote(node.raw).decode("utf-8", "replace")
            ev = fd.enum_type.values_by_name.get(name)
            if ev is None:
                raise GoJSONError(
                    f"unknown value {go_quote(node.raw.decode('utf-8', 'replace'))} for enum {fd.enum_type.full_name}"
                )
            return ev.number
        return _go_int(node.raw, "protoreflect.EnumNumber", -(1 << 31), (1 << 31) - 1)
    if t in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        nonfinite = {b'"NaN"': math.nan, b'"Infinity"': math.inf, b'"-Infinity"': -math.inf}
        if node.raw in nonfinite:
            return nonfinite[node.raw]
        return _go_float(_trim_quote(node.raw), 32 if t == FD.TYPE_FLOAT else 64)
    raise GoJSONError(f"invalid kind {t}")


def to_message(node: Node, msg: Message) -> None:
    """jsonpb's unmarshalMessage (unknown fields allowed, as grpc-gateway v1 sets it)."""
    if node.kind == "null":
        return
    if node.kind != "object":
        raise _type_error(node.kind, "map[string]json.RawMessage")
    obj = dict(node.value)
    for fd in msg.DESCRIPTOR.fields:
        raw = obj.pop(fd.name, None)
        if fd.json_name in obj:
            raw = obj.pop(fd.json_name)
        if raw is None or raw.kind == "null":
            continue
        _set_field(msg, fd, raw)


def _set_field(msg: Message, fd: FD, node: Node) -> None:
    if fd.is_repeated:
        if node.kind != "array":
            raise _type_error(node.kind, "[]json.RawMessage")
        target = getattr(msg, fd.name)
        for el in node.value:
            if fd.type == FD.TYPE_MESSAGE:
                to_message(el, target.add())
            else:
                target.append(_scalar(fd, el))
        return
    if fd.type == FD.TYPE_MESSAGE:
        sub = getattr(msg, fd.name)
        sub.SetInParent()  # present even when empty, as jsonpb's m.Set makes it
        to_message(node, sub)
        return
    setattr(msg, fd.name, _scalar(fd, node))


def request_message(body: bytes, cls: type[Message]) -> Message:
    """The gateway's decode of a unary request body: an empty body is an empty request."""
    msg = cls()
    try:
        node = decode_first(body)
    except EmptyBody:
        return msg
    to_message(node, msg)
    return msg


def to_json(msg: Message) -> str:
    """jsonpb's Marshal with OrigName: compact, declaration order, zero scalars left out."""
    parts = []
    for fd, oneof in fields_in_order(msg):
        if fd is None or (oneof is None and _omitted(msg, fd)):
            continue
        parts.append(json_string(fd.name) + ":" + _value_json(fd, getattr(msg, fd.name)))
    return "{" + ",".join(parts) + "}"


def _omitted(msg: Message, fd: FD) -> bool:
    """jsonpb leaves out an empty list, an unset message and a zero scalar (a oneof's set field never)."""
    if fd.is_repeated:
        return not len(getattr(msg, fd.name))
    if fd.type == FD.TYPE_MESSAGE:
        return not msg.HasField(fd.name)
    return not getattr(msg, fd.name)


def _value_json(fd: FD, value: Any) -> str:
    if fd.is_repeated:
        return "[" + ",".join(_single_json(fd, v) for v in value) + "]"
    return _single_json(fd, value)


def _single_json(fd: FD, v: Any) -> str:
    t = fd.type
    if t == FD.TYPE_MESSAGE:
        return to_json(v)
    if t == FD.TYPE_ENUM:
        ev = fd.enum_type.values_by_number.get(v)
        return str(v) if ev is None else '"' + ev.name + '"'
    if t in _INT64_KINDS:
        return f'"{v}"'
    if t == FD.TYPE_BOOL:
        return "true" if v else "false"
    if t == FD.TYPE_BYTES:
        return '"' + base64.b64encode(v).decode() + '"'
    if t == FD.TYPE_STRING:
        return json_string(v)
    if t in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        if math.isnan(v):
            return '"NaN"'
        if math.isinf(v):
            return '"Infinity"' if v > 0 else '"-Infinity"'
        from etcdctl_py.gofmt import go_json

        return go_json(float(v))
    return str(v)
