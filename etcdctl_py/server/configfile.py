"""`--config-file`: etcd's YAML configuration, read as etcd 3.5.1 reads it (sigs.k8s.io/yaml over go-yaml v2 into
embed's configYAML, then etcdmain's configProxy).

The YAML reader covers what etcd configuration files use: block mappings and sequences, flow `[...]`/`{...}`,
plain/single/double-quoted scalars, `|`/`>` block scalars, comments, anchors and aliases, `!!str`; other tags and
merge keys are not read.
Plain scalars resolve as go-yaml v2 resolves them (YAML 1.1: `yes`/`on` are booleans, `0x10` is 16, `~` is null),
then each value is decoded the way Go's encoding/json decodes it into the field's type, with json's error texts:
durations are integers (nanoseconds), a number or boolean for a string field is an error (as in etcd), keys match
case-insensitively, unknown keys are ignored, only the first document counts.
"""

from __future__ import annotations

import math
import re
import struct
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

from etcdctl_py import gofmt
from etcdctl_py.server.flagdefs import (
    CLIENT_TLS,
    DEFAULT_INITIAL_CLUSTER,
    DEFAULTS,
    FLAGS,
    PEER_TLS,
    FlagDef,
    GoPanic,
    PlainFatal,
    VerifyError,
)
from etcdctl_py.server.identity import ConfigError, parse_urls

YAML_PREFIX = "error converting YAML to JSON: yaml: "
JSON_PREFIX = "error unmarshaling JSON: while decoding JSON: json: "
PROXY_KEYS = (
    "proxy-failure-wait",
    "proxy-refresh-interval",
    "proxy-dial-timeout",
    "proxy-write-timeout",
    "proxy-read-timeout",
    "proxy",
    "discovery-fallback",
)
URL_KEYS = (
    ("listen-peer-urls", "listen-peer-urls"),
    ("listen-client-urls", "listen-client-urls"),
    ("initial-advertise-peer-urls", "initial-advertise-peer-urls"),
    ("advertise-client-urls", "advertise-peer-urls"),  # etcd's message names the wrong flag
    ("listen-metrics-urls", "listen-metrics-urls"),
)
INT_RANGES = {
    "uint": (0, (1 << 64) - 1),
    "uint64": (0, (1 << 64) - 1),
    "int": (-(1 << 63), (1 << 63) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "time.Duration": (-(1 << 63), (1 << 63) - 1),
}


class YAMLError(Exception):
    """A YAML syntax error, worded like go-yaml's."""


# ----------------------------------------------------------------------------------------- YAML

_RESOLVE = {
    **{s: True for s in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{s: False for s in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
    **{s: None for s in ("", "~", "null", "Null", "NULL")},
    **{s: float("nan") for s in (".nan", ".NaN", ".NAN")},
    **{s: float("inf") for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: float("-inf") for s in ("-.inf", "-.Inf", "-.INF")},
}
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def resolve(s: str) -> object:
    """go-yaml v2's resolve() of a plain scalar: bool, null, int, float or the string itself."""
    if s in _RESOLVE:
        return _RESOLVE[s]
    if s[:1] == ".":
        return _float_or(s, s)
    if s[:1] and s[0] in "+-0123456789":
        plain = s.replace("_", "")
        for signed in (True, False):
            try:
                return gofmt.parse_int(plain, 0, 64, signed=signed)
            except ValueError:  # not this integer kind: try the next, then a float, then the string itself
                continue
        if _FLOAT.match(plain):
            return _float_or(plain, s)
    return s


def _float_or(text: str, fallback: str) -> object:
    """strconv.ParseFloat's result, or `fallback` where Go fails (bad syntax, or out of range: 1e400)."""
    try:
        f = float(text)
    except ValueError:
        return fallback
    return fallback if f in (float("inf"), float("-inf")) and "inf" not in text.lower() else f


class _Lines:
    """The first YAML document as (line number, indent, text), comments and blank lines left out; the raw lines
    (for block scalars) and the line index of the end of the stream (for errors found there)."""

    def __init__(self, text: str) -> None:
        self.raw = text.split("\n")
        self.eof = text.count("\n")
        self.items: list[tuple[int, int, str]] = []
        for no, line in enumerate(self.raw, 1):
            body = _strip_comment(line).rstrip()
            stripped = body.lstrip(" ")
            if not stripped:
                continue
            if "\t" in line[: len(line) - len(line.lstrip(" \t"))]:
                raise YAMLError(
                    _scan_err(
                        no,
                        "found a tab character that violates indentation"
                        if self.items
                        else "found character that cannot start any token",
                    )
                )
            if not self.items and stripped.startswith("%"):
                continue  # a directive such as %YAML 1.1
            if body in ("---", "...") or body.startswith("--- "):
                if self.items or body == "...":
                    break  # go-yaml's Unmarshal reads the first document only
                if body.startswith("--- "):
                    self.items.append((no, 4, body[4:].lstrip()))
                continue
            self.items.append((no, len(body) - len(stripped), stripped))


def _scan_err(line: int, msg: str) -> str:
    """A go-yaml scanner error at 1-based `line` (no line shown for the first one)."""
    return msg if line <= 1 else f"line {line}: {msg}"


def _parse_err(index: int, msg: str) -> str:
    """A go-yaml parser error: go-yaml shows the 0-based line index of the mark (none when 0)."""
    return msg if index <= 0 else f"line {index}: {msg}"


def _strip_comment(line: str) -> str:
    """The line without a `#` comment (one at the start or after a blank, outside quotes)."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "\"'" and (i == 0 or line[i - 1] in " \t:[{,-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _unquoted(text: str, quote_after: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth after it) for each character outside quotes; a quote opens a quoted
    scalar only at the start or after one of `quote_after`."""
    depth, quote = 0, ""
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "\"'" and (i == 0 or text[i - 1] in quote_after):
            quote = c
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        yield i, c, depth


def _key_split(text: str) -> tuple[str, str] | None:
    """'key: value' -> (key, value) when the line is a mapping entry (indicator outside quotes and brackets)."""
    for i, c, depth in _unquoted(text, " [{,"):
        if c == ":" and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].rstrip(), text[i + 1 :].strip()
    return None


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = _Lines(text)
        self.items = self.lines.items
        self.i = 0
        self.anchors: dict[str, object] = {}

    def document(self) -> object:
        if not self.items:
            return None
        value = self.node(self.items[0][1])
        if self.i < len(self.items):
            raise YAMLError(_parse_err(self.items[self.i][0] - 1, "did not find expected <document start>"))
        return value

    def node(self, indent: int) -> object:
        no, ind, text = self.items[self.i]
        if _is_item(text):
            return self.sequence(ind, compact=False)
        if _key_split(text) is not None:
            return self.mapping(ind)
        self.i += 1
        return self.inline(text, no, ind - 1)

    def mapping(self, indent: int) -> dict:
        out: dict = {}
        while self.i < len(self.items):
            no, ind, text = self.items[self.i]
            if ind < indent:
                break
            if ind > indent or _is_item(text):
                raise YAMLError(_parse_err(no - 1, "did not find expected key"))
            kv = _key_split(text)
            if kv is None:
                raise YAMLError(_scan_err(no + 1, "could not find expected ':'"))
            key = _key_text(self.inline_scalar(kv[0], no) if kv[0] else None)
            self.i += 1
            if kv[1]:
                out[key] = self.inline(kv[1], no, indent)
            elif self.i < len(self.items) and self.items[self.i][1] > indent:
                out[key] = self.node(self.items[self.i][1])
            elif self.i < len(self.items) and self.items[self.i][1] == indent and _is_item(self.items[self.i][2]):
                out[key] = self.sequence(indent, compact=True)  # "key:" then "- item" at the key's own column
            else:
                out[key] = None
        return out

    def sequence(self, indent: int, compact: bool) -> list:
        out: list = []
        while self.i < len(self.items):
            no, ind, text = self.items[self.i]
            if ind != indent or not _is_item(text):
                if ind > indent or (ind == indent and not compact):
                    raise YAMLError(_parse_err(no - 1, "did not find expected '-' indicator"))
                break
            rest = text[1:].lstrip(" ")
            if not rest:
                self.i += 1
                nxt = self.items[self.i] if self.i < len(self.items) else None
                out.append(self.node(nxt[1]) if nxt and nxt[1] > indent else None)
                continue
            self.items[self.i] = (no, indent + len(text) - len(rest), rest)  # the item's content, as its own line
            if _is_item(rest) or _key_split(rest) is not None:
                out.append(self.node(indent + len(text) - len(rest)))
            else:
                self.i += 1
                out.append(self.inline(rest, no, indent))
        return out

    def inline(self, text: str, no: int, indent: int) -> object:
        """A value written after `key:` or `- ` (continuing on deeper-indented lines)."""
        if text[0] == "&":  # an anchor: the value that follows (here or as a deeper block) gets a name
            name, _, rest = text[1:].partition(" ")
            rest = rest.strip()
            if rest:
                value = self.inline(rest, no, indent)
            elif self.i < len(self.items) and self.items[self.i][1] > indent:
                value = self.node(self.items[self.i][1])
            else:
                value = None
            self.anchors[name] = value
            return value
        if text[0] == "*":
            if text[1:] not in self.anchors:
                raise YAMLError(f"unknown anchor '{text[1:]}' referenced")  # go-yaml gives no line here
            return self.anchors[text[1:]]
        if text.startswith("!!str "):
            value = self.inline(text[6:].strip(), no, indent)
            return value if isinstance(value, str) else _key_text(value) if value is not None else ""
        if text[0] == "!":
            raise YAMLError(_scan_err(no, "etcd-py reads no YAML tags other than !!str"))
        if text[0] in "[{":
            return self.flow(text, no, indent)
        if text[0] in "|>":
            return self.block_scalar(text, no, indent)
        if text[0] in "\"'":
            return self.quoted(text, no, indent)
        parts = [text]
        while self.i < len(self.items) and self.items[self.i][1] > indent:
            cno, _, ctext = self.items[self.i]
            if _key_split(ctext) is not None:
                raise YAMLError(_scan_err(cno, "mapping values are not allowed in this context"))
            parts.append(ctext)
            self.i += 1
        return self.inline_scalar(" ".join(parts), no)

    def inline_scalar(self, text: str, no: int) -> object:
        if text[0] in "\"'":
            value, rest = _quoted(text, no)
            if rest.strip():
                raise YAMLError(_parse_err(no - 1, "did not find expected key"))
            return value
        if ": " in text or text.endswith(":"):
            raise YAMLError(_scan_err(no, "mapping values are not allowed in this context"))
        return resolve(text)

    def _continuation(self, text: str, indent: int, done) -> str:
        """Join deeper-indented lines to `text` until done(text) holds."""
        while not done(text) and self.i < len(self.items) and self.items[self.i][1] > indent:
            text += " " + self.items[self.i][2]
            self.i += 1
        return text

    def quoted(self, text: str, no: int, indent: int) -> object:
        text = self._continuation(text, indent, lambda t: _quote_end(t) >= 0)
        if _quote_end(text) < 0:
            raise YAMLError(_scan_err(self.lines.eof + 1, "found unexpected end of stream"))
        return self.inline_scalar(text, no)

    def flow(self, text: str, no: int, indent: int) -> object:
        text = self._continuation(text, indent, _balanced)
        close = "]" if text[0] == "[" else "}"
        if not _balanced(text):
            raise YAMLError(_parse_err(self.lines.eof, f"did not find expected ',' or '{close}'"))
        value, pos = _flow_value(text, 0, no)
        if text[pos:].strip():
            raise YAMLError(_parse_err(no - 1, "did not find expected key"))
        return value

    def block_scalar(self, header: str, no: int, indent: int) -> str:
        """A `|` (literal) or `>` (folded) scalar with its chomping indicator, read from the raw lines."""
        style, chomp = header[0], ("-" if "-" in header else "+" if "+" in header else "")
        raw = self.lines.raw
        body: list[str] = []
        j = no  # raw index of the line after the header
        content = None
        while j < len(raw):
            line = raw[j]
            if line.strip() == "":
                body.append("")
                j += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if ind <= indent:
                break
            content = ind if content is None else content
            if ind < content:
                break
            body.append(line[content:])
            j += 1
        while self.i < len(self.items) and self.items[self.i][0] <= j and self.items[self.i][1] > indent:
            self.i += 1
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        if style == "|":
            text = "\n".join(body)
        else:
            text = ""
            for k, line in enumerate(body):
                if k and line and body[k - 1] and not line.startswith(" "):
                    text += " "
                elif k:
                    text += "\n"
                text += line
        if not body:
            return "\n" * trailing if chomp == "+" else ""
        return text + ("" if chomp == "-" else "\n" * (trailing + 1) if chomp == "+" else "\n")


def _quote_end(text: str) -> int:
    """Index of the quote closing the scalar that starts text[0], or -1."""
    q = text[0]
    i = 1
    while i < len(text):
        if q == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == q:
            if q == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}


def _quoted(text: str, no: int) -> tuple[str, str]:
    """(value, rest) of a quoted scalar at the start of text."""
    end = _quote_end(text)
    if end < 0:
        raise YAMLError(_scan_err(no + 1, "found unexpected end of stream"))
    body, rest = text[1:end], text[end + 1 :]
    if text[0] == "'":
        return body.replace("''", "'"), rest
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1 : i + 2]
        width = {"x": 2, "u": 4, "U": 8}.get(e)
        if width:
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise YAMLError(_scan_err(no, "did not find expected hexdecimal number"))
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        else:
            raise YAMLError(_scan_err(no, "found unknown escape character"))
    return "".join(out), rest


def _balanced(text: str) -> bool:
    """Whether a flow collection that `text` opens is closed in it."""
    return any(c in "]}" and depth == 0 for _, c, depth in _unquoted(text, " [{,:"))


def _flow_value(text: str, pos: int, no: int) -> tuple[object, int]:
    while pos < len(text) and text[pos] == " ":
        pos += 1
    c = text[pos : pos + 1]
    if c in ("[", "{"):
        close = "]" if c == "[" else "}"
        items: list = []
        mapping: dict = {}
        pos += 1
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if text[pos : pos + 1] == close:
                return (items if c == "[" else mapping), pos + 1
            if c == "[":
                value, pos = _flow_value(text, pos, no)
                items.append(value)
            else:
                key, pos = _flow_value(text, pos, no)
                while pos < len(text) and text[pos] == " ":
                    pos += 1
                value = None
                if text[pos : pos + 1] == ":":
                    value, pos = _flow_value(text, pos + 1, no)
                mapping[_key_text(key)] = value
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if text[pos : pos + 1] == ",":
                pos += 1
            elif text[pos : pos + 1] != close:
                raise YAMLError(_parse_err(no - 1, f"did not find expected ',' or '{close}'"))
    if c in ('"', "'"):
        value, rest = _quoted(text[pos:], no)
        return value, len(text) - len(rest)
    end = pos
    while (
        end < len(text) and text[end] not in ",]}" and not (text[end] == ":" and text[end + 1 : end + 2] in (" ", ""))
    ):
        end += 1
    return resolve(text[pos:end].strip()), end


def _key_text(key: object) -> str:
    """A mapping key as JSON needs it (sigs.k8s.io/yaml turns numbers and booleans into their text)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return _float32_text(key)
    return "" if key is None else str(key)


def parse_yaml(text: str) -> object:
    """The document as Python values (dict, list, str, int, float, bool, None)."""
    return _Parser(text.replace("\r\n", "\n")).document()


# ----------------------------------------------------------------------------------------- JSON decoding


def _float32_text(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32): how sigs.k8s.io/yaml writes a float into a string field."""
    if math.isnan(f):
        return "NaN"
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        return "+Inf" if f > 0 else "-Inf"
    if f32 in (float("inf"), float("-inf")):
        return "+Inf" if f32 > 0 else "-Inf"
    if f32 == 0:
        return "0"
    for prec in range(1, 10):
        s = f"{f32:.{prec - 1}e}"
        if struct.unpack("f", struct.pack("f", float(s)))[0] == f32:
            break
    mant, exp = s.split("e")
    exp_i = int(exp)
    digits = mant.replace(".", "").lstrip("-")
    sign = "-" if f32 < 0 else ""
    if exp_i < -4 or exp_i >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if exp_i < 0 else '+'}{abs(exp_i):02d}"
    d = Decimal(f"{sign}{digits[0]}.{digits[1:] or '0'}e{exp_i}")
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _json_number(v: float) -> str:
    """The number as Go's json.Marshal writes it (the text json's errors quote)."""
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    if 1e-6 <= abs(v) < 1e21:
        return format(Decimal(repr(v)), "f")
    s = repr(v)
    return re.sub(r"e([-+])0(\d)$", r"e\1\2", s)


def _kind(v: object) -> str:
    """encoding/json's name for a JSON value in "cannot unmarshal X into ..."."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


class _TypeError(Exception):
    """encoding/json's UnmarshalTypeError: the JSON value's description and the Go type it did not fit."""

    def __init__(self, value: str, gotype: str) -> None:
        super().__init__(value)
        self.value = value
        self.gotype = gotype


def decode(v: object, gotype: str, coerce: bool = False) -> object:
    """One JSON value into a Go field of `gotype`; raises _TypeError with encoding/json's description of the
    offending value. `coerce`: sigs.k8s.io/yaml first turned a number or boolean for a string field into its text,
    which it does for etcdmain's configProxy but not for embed's configYAML (its fields are all promoted from
    embedded structs, where that library looks at the embedded struct instead of the field)."""
    if gotype in ("string", "config.V2DeprecationEnum"):
        if coerce and isinstance(v, bool):
            return "true" if v else "false"
        if coerce and isinstance(v, int):
            return str(v)
        if coerce and isinstance(v, float):
            return _float32_text(v)
        if isinstance(v, str):
            return v
        raise _TypeError(_kind(v), gotype)
    if gotype == "bool":
        if isinstance(v, bool):
            return v
        raise _TypeError(_kind(v), gotype)
    if gotype in INT_RANGES:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _TypeError(_kind(v), gotype)
        text = _json_number(v)
        lo, hi = INT_RANGES[gotype]
        if not re.fullmatch(r"-?\d+", text) or not lo <= int(text) <= hi:
            raise _TypeError(f"number {text}", gotype)
        return int(text)
    if gotype == "[]string":
        if not isinstance(v, list):
            raise _TypeError(_kind(v), gotype)
        return ["" if x is None else decode(x, "string") for x in v]
    raise AssertionError(gotype)


def _match(key: str, names) -> str | None:
    """encoding/json's field lookup: an exact name first, else one equal under case folding."""
    if key in names:
        return key
    low = key.lower()
    return next((n for n in names if n.lower() == low), None)


def _check_nan(v: object) -> None:
    """json.Marshal refuses NaN and infinities (sigs.k8s.io/yaml reports it as a conversion error)."""
    if isinstance(v, float) and not math.isfinite(v):
        raise VerifyError(f"error converting YAML to JSON: json: unsupported value: {_float32_text(v)}")
    if isinstance(v, list):
        for x in v:
            _check_nan(x)
    if isinstance(v, dict):
        for x in v.values():
            _check_nan(x)


def _decode_struct(
    doc: object, fields: dict[str, FlagDef | dict], struct_name: str, gotype: str, coerce: bool = False
) -> dict[str, object]:
    """A JSON object into a Go struct: {flag name: Go value}; the first type error is raised (json's order:
    keys sorted, since sigs.k8s.io/yaml builds the JSON from a Go map)."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise VerifyError(f"{JSON_PREFIX}cannot unmarshal {_kind(doc)} into Go value of type {gotype}")
    out: dict[str, object] = {}
    first: str | None = None
    for key in sorted(doc):
        name = _match(key, fields)
        value = doc[key]
        if name is None or value is None:
            continue
        target = fields[name]
        try:
            if isinstance(target, dict):  # a nested securityConfig
                if not isinstance(value, dict):
                    raise _TypeError(_kind(value), "embed.securityConfig")
                for sub in sorted(value):
                    sname = _match(sub, target)
                    if sname is None or value[sub] is None:
                        continue
                    try:
                        out[target[sname].name] = decode(value[sub], target[sname].yaml_type)
                    except _TypeError as e:
                        first = first or (
                            f"cannot unmarshal {e.value} into Go struct field securityConfig.{name}."
                            f"{sname} of type {e.gotype}"
                        )
                continue
            out[target.name] = decode(value, target.yaml_type, coerce)
        except _TypeError as e:
            first = first or f"cannot unmarshal {e.value} into Go struct field {struct_name}.{name} of type {e.gotype}"
    if first:
        raise VerifyError(JSON_PREFIX + first)
    return out


def _fields(proxy: bool) -> dict[str, FlagDef | dict]:
    """configYAML's (or configProxy's) JSON field names -> the flag each one sets."""
    top: dict[str, FlagDef | dict] = {}
    nested: dict[str, dict[str, FlagDef]] = {CLIENT_TLS: {}, PEER_TLS: {}}
    for fd in FLAGS:
        path = fd.yaml_path
        if not path or (path[0] in PROXY_KEYS) != proxy:
            continue
        if len(path) == 2:
            nested[path[0]][path[1]] = fd
        else:
            top[path[0]] = fd
    if not proxy:
        top.update(nested)
    return top


def _canonical(fd: FlagDef, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if fd.kind == "duration" and isinstance(value, int):  # decode() gives a time.Duration as int nanoseconds
        return gofmt.format_duration(value)
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _go_log_fatal(msg: str) -> PlainFatal:
    """Go's log.Fatalf line: local date and time, then the message."""
    return PlainFatal(time.strftime("%Y/%m/%d %H:%M:%S ") + msg)


def load(path: str, validate: Callable[..., None]) -> dict[str, str]:
    """etcdmain's configFromFile: the flag values the file gives (defaults elsewhere), checked as etcd checks
    them (`validate`, config.validate, runs where etcd runs it: before the proxy fields are read); raises
    VerifyError, PlainFatal or GoPanic with etcd's texts."""
    from etcdctl_py.storage.fileutil import go_path_error

    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8", "surrogateescape")
    except IsADirectoryError as e:  # Go's ReadFile opens a directory fine and fails reading it
        raise VerifyError(go_path_error("read", path, e)) from None
    except OSError as e:
        raise VerifyError(go_path_error("open", path, e)) from None
    try:
        doc = parse_yaml(text)
    except YAMLError as e:
        raise VerifyError(YAML_PREFIX + str(e)) from None
    except RecursionError:
        raise VerifyError(YAML_PREFIX + "exceeded max depth") from None
    _check_nan(doc)
    values = dict(DEFAULTS)
    values["config-file"] = path
    decoded = _decode_struct(doc, _fields(proxy=False), "configYAML", "embed.configYAML")
    by_name = {fd.name: fd for fd in FLAGS}
    urls = {name for name, _ in URL_KEYS} | {"cors"}
    for name, value in decoded.items():
        if name not in urls:
            values[name] = _canonical(by_name[name], value)
    for name, label in URL_KEYS:
        if decoded.get(name):
            try:
                values[name] = ",".join(parse_urls(str(decoded[name])))
            except ConfigError as e:
                raise PlainFatal(f"unexpected error setting up {label}: {e}") from None
    if decoded.get("cors"):
        values["cors"] = _cors(str(decoded["cors"]))
    if (values["discovery"] or values["discovery-srv"]) and values["initial-cluster"] == DEFAULT_INITIAL_CLUSTER:
        values["initial-cluster"] = ""
    if values["initial-cluster-state"] == "":
        values["initial-cluster-state"] = "new"
    if values["self-signed-cert-validity"] == "0":
        values["self-signed-cert-validity"] = "1"
    validate(values, from_file=True)
    for name, value in _decode_struct(
        doc, _fields(proxy=True), "configProxy", "etcdmain.configProxy", coerce=True
    ).items():
        if value != "":  # etcd sets proxy/discovery-fallback only from a non-empty value
            values[name] = _canonical(by_name[name], value)
    for name, label in (("discovery-fallback", "discovery-fallback flag"), ("proxy", "proxyFlag")):
        if values[name] not in by_name[name].choices:
            raise _go_log_fatal(f"unexpected error setting up {label}: invalid value")
    return values


def _cors(text: str) -> str:
    """etcd builds the CORS list with NewUniqueURLsWithExceptions(value, "*"), which panics on a bad URL."""
    if text == "*":
        return text
    try:
        return ",".join(parse_urls(text))
    except ConfigError as e:
        raise GoPanic(f"new UniqueURLs should never fail: {e}") from None
