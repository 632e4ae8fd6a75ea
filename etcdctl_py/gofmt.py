"""Go formatting and parsing rules that etcdctl's output, flags and on-disk JSON depend on.

etcdctl is a Go program: its `%q` quoting, duration syntax, integer parsing and
JSON escaping leak into what users see, so we reproduce them exactly here.
"""

from __future__ import annotations

import re
from typing import Any

# ---------------------------------------------------------------- %q quoting

_ESC = {
    0x07: "\\a",
    0x08: "\\b",
    0x0C: "\\f",
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x0B: "\\v",
    0x5C: "\\\\",
    0x22: '\\"',
    0x7F: "\\u007f",
}  # Go 1.16 (etcd 3.5.1's) quotes DEL as a \u rune; `\x7f` came with Go 1.18


# The code points Unicode 14.0 assigned. Python 3.11's tables are Unicode 14; etcdctl 3.5.1 is built
# with Go 1.16, whose tables are Unicode 13: there these are unassigned, so not printable.
_UNICODE_14 = (
    (0x61D, 0x61D),
    (0x870, 0x88E),
    (0x890, 0x891),
    (0x898, 0x89F),
    (0x8B5, 0x8B5),
    (0x8C8, 0x8D2),
    (0xC3C, 0xC3C),
    (0xC5D, 0xC5D),
    (0xCDD, 0xCDD),
    (0x170D, 0x170D),
    (0x1715, 0x1715),
    (0x171F, 0x171F),
    (0x180F, 0x180F),
    (0x1AC1, 0x1ACE),
    (0x1B4C, 0x1B4C),
    (0x1B7D, 0x1B7E),
    (0x1DFA, 0x1DFA),
    (0x20C0, 0x20C0),
    (0x2C2F, 0x2C2F),
    (0x2C5F, 0x2C5F),
    (0x2E53, 0x2E5D),
    (0x9FFD, 0x9FFF),
    (0xA7C0, 0xA7C1),
    (0xA7D0, 0xA7D1),
    (0xA7D3, 0xA7D3),
    (0xA7D5, 0xA7D9),
    (0xA7F2, 0xA7F4),
    (0xFBC2, 0xFBC2),
    (0xFD40, 0xFD4F),
    (0xFDCF, 0xFDCF),
    (0xFDFE, 0xFDFF),
    (0x10570, 0x1057A),
    (0x1057C, 0x1058A),
    (0x1058C, 0x10592),
    (0x10594, 0x10595),
    (0x10597, 0x105A1),
    (0x105A3, 0x105B1),
    (0x105B3, 0x105B9),
    (0x105BB, 0x105BC),
    (0x10780, 0x10785),
    (0x10787, 0x107B0),
    (0x107B2, 0x107BA),
    (0x10F70, 0x10F89),
    (0x11070, 0x11075),
    (0x110C2, 0x110C2),
    (0x116B9, 0x116B9),
    (0x11740, 0x11746),
    (0x11AB0, 0x11ABF),
    (0x12F90, 0x12FF2),
    (0x16A70, 0x16ABE),
    (0x16AC0, 0x16AC9),
    (0x1AFF0, 0x1AFF3),
    (0x1AFF5, 0x1AFFB),
    (0x1AFFD, 0x1AFFE),
    (0x1B11F, 0x1B122),
    (0x1CF00, 0x1CF2D),
    (0x1CF30, 0x1CF46),
    (0x1CF50, 0x1CFC3),
    (0x1D1E9, 0x1D1EA),
    (0x1DF00, 0x1DF1E),
    (0x1E290, 0x1E2AE),
    (0x1E7E0, 0x1E7E6),
    (0x1E7E8, 0x1E7EB),
    (0x1E7ED, 0x1E7EE),
    (0x1E7F0, 0x1E7FE),
    (0x1F6DD, 0x1F6DF),
    (0x1F7F0, 0x1F7F0),
    (0x1F979, 0x1F979),
    (0x1F9CC, 0x1F9CC),
    (0x1FA7B, 0x1FA7C),
    (0x1FAA9, 0x1FAAC),
    (0x1FAB7, 0x1FABA),
    (0x1FAC3, 0x1FAC5),
    (0x1FAD7, 0x1FAD9),
    (0x1FAE0, 0x1FAE7),
    (0x1FAF0, 0x1FAF6),
    (0x2A6DE, 0x2A6DF),
    (0x2B735, 0x2B738),
)
_unicode_14_re: re.Pattern[str] | None = None


def unicode_14_chars() -> re.Pattern[str]:
    """A compiled pattern matching any code point first assigned in Unicode 14.0 (built on first use)."""
    global _unicode_14_re
    if _unicode_14_re is None:
        _unicode_14_re = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _UNICODE_14) + "]")
    return _unicode_14_re


def _is_print(ch: str) -> bool:
    """Go 1.16's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    if ch == " ":
        return True
    import unicodedata  # only non-ASCII text gets here

    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS" and not unicode_14_chars().match(ch)


def quote(data: bytes | str) -> str:
    """Go's strconv.Quote (`%q`) of a byte string: printable UTF-8 kept, the rest escaped."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    out: list[str] = ['"']
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            if b in _ESC:
                out.append(_ESC[b])
            elif 0x20 <= b < 0x7F:
                out.append(chr(b))
            else:
                out.append(f"\\x{b:02x}")
            i += 1
            continue
        # decode one UTF-8 rune the way Go does (invalid bytes are escaped one by one)
        size = 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 0
        rune = None
        if size and i + size <= n:
            try:
                rune = data[i : i + size].decode("utf-8")
            except UnicodeDecodeError:
                rune = None
        if rune is None or len(rune) != 1:
            out.append(f"\\x{b:02x}")
            i += 1
            continue
        cp = ord(rune)
        if _is_print(rune):
            out.append(rune)
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
        i += size
    out.append('"')
    return "".join(out)


def quote_sharp(s: str) -> str:
    """Go's `%#q`: a raw `backquoted` string when strconv.CanBackquote allows it, else `%q`."""
    data = s.encode("utf-8", "surrogateescape")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return quote(data)
    if any((c < " " and c != "\t") or c in "`\x7f\ufeff" for c in text):
        return quote(data)
    return "`" + text + "`"


def unquote(s: str) -> bytes:
    """Go's strconv.Unquote for a double-quoted literal. Raises ValueError('invalid syntax')."""
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError("invalid syntax")
    body = s[1:-1]
    out = bytearray()
    i = 0
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39}
    while i < len(body):
        c = body[i]
        if c == '"' or c == "\n":
            raise ValueError("invalid syntax")
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        c = body[i]
        if c in simple:
            if c == "'":
                raise ValueError("invalid syntax")
            out.append(simple[c])
            i += 1
        elif c == "x":
            h = body[i + 1 : i + 3]
            if len(h) != 2 or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                raise ValueError("invalid syntax")
            out.append(int(h, 16))
            i += 3
        elif c in "01234567":
            o = body[i : i + 3]
            if len(o) != 3 or any(ch not in "01234567" for ch in o) or int(o, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(int(o, 8))
            i += 3
        elif c in "uU":
            width = 4 if c == "u" else 8
            h = body[i + 1 : i + 1 + width]
            if len(h) != width or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                raise ValueError("invalid syntax")
            cp = int(h, 16)
            if cp > 0x10FFFF or 0xD800 <= cp < 0xE000:
                raise ValueError("invalid syntax")
            out += chr(cp).encode("utf-8")
            i += 1 + width
        else:
            raise ValueError("invalid syntax")
    return bytes(out)


# ---------------------------------------------------------------- integers


def parse_int(s: str, base: int = 0, bits: int = 64, signed: bool = True) -> int:
    """Go's strconv.ParseInt/ParseUint. Raises ValueError with Go's message."""
    fn = "ParseInt" if signed else "ParseUint"
    syntax = ValueError(f"strconv.{fn}: parsing {quote(s)}: invalid syntax")
    rng = ValueError(f"strconv.{fn}: parsing {quote(s)}: value out of range")
    t = s
    neg = False
    if signed and t[:1] in ("+", "-"):
        neg = t[0] == "-"
        t = t[1:]
    if not t or (base == 0 and t[0] == "_"):  # Go: an underscore must follow a digit or a base prefix
        raise syntax
    b = base
    underscores_ok = False
    if base == 0:
        b = 10
        if t[0] == "0":
            if len(t) >= 3 and t[1] in "xX":
                b, t = 16, t[2:]
            elif len(t) >= 3 and t[1] in "oO":
                b, t = 8, t[2:]
            elif len(t) >= 3 and t[1] in "bB":
                b, t = 2, t[2:]
            else:
                b, t = 8, t[1:] or "0"
            underscores_ok = True
        else:
            underscores_ok = True
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:b]
    clean = []
    prev_us = False
    for ch in t:
        if ch == "_" and base == 0 and underscores_ok:
            if prev_us:
                raise syntax
            prev_us = True
            continue
        prev_us = False
        if ch.lower() not in digits:
            raise syntax
        clean.append(ch)
    if not clean or prev_us:
        raise syntax
    v = int("".join(clean), b)
    if signed:
        lim = 1 << (bits - 1)
        if (not neg and v >= lim) or (neg and v > lim):
            raise rng
        return -v if neg else v
    if v >= 1 << bits:
        raise rng
    return v


def parse_bool(s: str) -> bool:
    """Go's strconv.ParseBool."""
    if s in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if s in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f"strconv.ParseBool: parsing {quote(s)}: invalid syntax")


# ---------------------------------------------------------------- durations (nanoseconds)

_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 1000_000,
    "s": 1000_000_000,
    "m": 60 * 1000_000_000,
    "h": 3600 * 1000_000_000,
}
_INT64_MAX = (1 << 63) - 1


def _time_quote(s: str) -> str:
    """The quoting of Go 1.16's time package errors: plain double quotes, nothing escaped (unlike %q)."""
    return '"' + s + '"'


def _leading_int(s: str) -> tuple[int, str]:
    """Go's time.leadingInt: the leading decimal digits; ValueError when they overflow an int64."""
    i, x = 0, 0
    while i < len(s) and "0" <= s[i] <= "9":
        if x > _INT64_MAX // 10:
            raise ValueError("time: bad [0-9]*")
        x = x * 10 + ord(s[i]) - 48
        if x > _INT64_MAX:
            raise ValueError("time: bad [0-9]*")
        i += 1
    return x, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    """Go's time.leadingFraction: digits after the point (later digits dropped once they would overflow)."""
    i, x, scale, overflow = 0, 0, 1.0, False
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            if x > _INT64_MAX // 10 or x * 10 + ord(s[i]) - 48 > _INT64_MAX:
                overflow = True
            else:
                x = x * 10 + ord(s[i]) - 48
                scale *= 10
        i += 1
    return x, scale, s[i:]


def parse_duration(s: str) -> int:
    """Go 1.16's time.ParseDuration, returning nanoseconds: int64 arithmetic for the whole part, Go's float64
    formula for a fraction, Go's overflow checks. Raises ValueError with Go's message."""
    orig = s
    bad = ValueError("time: invalid duration " + _time_quote(orig))
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise bad
        before = len(s)
        try:
            v, s = _leading_int(s)
        except ValueError:
            raise bad from None
        pre = before != len(s)
        f, scale, post = 0, 1.0, False
        if s[:1] == ".":
            s = s[1:]
            before = len(s)
            f, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise bad
        i = 0
        while i < len(s) and s[i] != "." and not "0" <= s[i] <= "9":
            i += 1
        if i == 0:
            raise ValueError("time: missing unit in duration " + _time_quote(orig))
        unit, s = s[:i], s[i:]
        if unit not in _UNITS:
            raise ValueError("time: unknown unit " + _time_quote(unit) + " in duration " + _time_quote(orig))
        mult = _UNITS[unit]
        if v > _INT64_MAX // mult:
            raise bad
        v *= mult
        if f > 0:
            v += int(float(f) * (float(mult) / scale))
            if v > _INT64_MAX:
                raise bad
        total += v
        if total > _INT64_MAX:
            raise bad
    return -total if neg else total


def format_duration(ns: int) -> str:
    """Go's time.Duration.String() for a duration in nanoseconds."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1000_000_000:
        if u < 1000:
            s = f"{u}ns"
        elif u < 1000_000:
            s = _frac(u, 3) + "µs"
        else:
            s = _frac(u, 6) + "ms"
    else:
        secs, rem = divmod(u, 1000_000_000)
        h, secs = divmod(secs, 3600)
        m, secs = divmod(secs, 60)
        sec = str(secs)
        if rem:
            sec += "." + f"{rem:09d}".rstrip("0")
        s = sec + "s"
        if h:
            s = f"{h}h{m}m" + s
        elif m:
            s = f"{m}m" + s
    return "-" + s if neg else s


def _frac(v: int, prec: int) -> str:
    whole, rem = divmod(v, 10**prec)
    if rem == 0:
        return str(whole)
    return f"{whole}." + f"{rem:0{prec}d}".rstrip("0")


# ---------------------------------------------------------------- JSON (encoding/json)

# what json_string escapes, with and without Go's HTML-safe set; compiled on first use (start-up stays lean)
_JSON_ESCAPES = {True: '[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]', False: '[\x00-\x1f"\\\\\ud800-\udfff]'}
_json_escaped: dict[bool, re.Pattern[str]] = {}
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    if "\ud800" <= ch <= "\udfff":  # an undecodable byte (surrogateescape): Go writes the escaped U+FFFD
        return "\\ufffd"
    return _JSON_SHORT.get(ch) or f"\\u{ord(ch):04x}"


def json_string(s: str | bytes, html_safe: bool = True) -> str:
    """A JSON string as Go's encoding/json writes it: quotes, backslash and control characters
    escaped (only \\n, \\r, \\t in short form); with `html_safe` (Go's default) also `<`, `>`, `&` and
    U+2028/9. zap's JSON encoder is the `html_safe=False` variant. Each undecodable byte becomes
    `\\ufffd`, as in Go."""
    if isinstance(s, bytes):
        s = s.decode("utf-8", "surrogateescape")
    pattern = _json_escaped.get(html_safe)
    if pattern is None:
        pattern = _json_escaped[html_safe] = re.compile(_JSON_ESCAPES[html_safe])
    return '"' + pattern.sub(_json_escape, s) + '"'


def go_json(obj: Any, sort_keys: bool = False) -> str:
    """encoding/json's Marshal of plain values (dict, list, tuple, str, bytes as text, int, float, bool, None):
    compact, strings as json_string() writes them. A dict keeps its order (a Go struct's fields) unless
    `sort_keys` (a Go map, whose keys json.Marshal sorts)."""
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return _go_float(obj)
    if isinstance(obj, (str, bytes)):
        return json_string(obj)
    if isinstance(obj, dict):
        items = sorted(obj.items()) if sort_keys else obj.items()
        return "{" + ",".join(json_string(str(k)) + ":" + go_json(v, sort_keys) for k, v in items) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(go_json(v, sort_keys) for v in obj) + "]"
    raise TypeError(f"json: unsupported type: {type(obj).__name__}")


def go_struct(*fields: tuple[str, Any, str]) -> dict[str, Any]:
    """A Go struct as encoding/json writes it, for go_json(): (name, value, tag) in field order, where tag ""
    keeps the field always, "omitempty" drops a zero value (false, 0, "", nil, an empty list or map) and "ptr"
    (a pointer field, omitempty or not) drops only nil."""
    return {
        name: value for name, value, tag in fields if tag == "" or (value is not None if tag == "ptr" else bool(value))
    }


def _go_float(f: float) -> str:
    """encoding/json's float64: the shortest form, plain between 1e-6 and 1e21, else exponent with no
    leading zero (1e-07 -> 1e-7)."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {f!r}")
    if f != 0 and not 1e-6 <= abs(f) < 1e21:
        mant, _, exp = repr(f).partition("e")
        return f"{mant.removesuffix('.0')}e{exp[0]}{exp[1:].lstrip('0')}"
    from decimal import Decimal

    text = format(Decimal(repr(f)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
