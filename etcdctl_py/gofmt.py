"""Go formatting and parsing rules that etcdctl's output, flags and on-disk JSON depend on.

etcdctl is a Go program: its `%q` quoting, duration syntax, integer parsing and
JSON escaping leak into what users see, so we reproduce them exactly here.
"""

from __future__ import annotations

# ---------------------------------------------------------------- %q quoting

_ESC = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v",
        0x5C: "\\\\", 0x22: '\\"'}


def _is_print(ch: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    if ch == " ":
        return True
    import unicodedata  # only non-ASCII text gets here

    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


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
                out.append("\\x%02x" % b)
            i += 1
            continue
        # decode one UTF-8 rune the way Go does (invalid bytes are escaped one by one)
        size = 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 0
        rune = None
        if size and i + size <= n:
            try:
                rune = data[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                rune = None
        if rune is None or len(rune) != 1:
            out.append("\\x%02x" % b)
            i += 1
            continue
        cp = ord(rune)
        if _is_print(rune):
            out.append(rune)
        elif cp < 0x10000:
            out.append("\\u%04x" % cp)
        else:
            out.append("\\U%08x" % cp)
        i += size
    out.append('"')
    return "".join(out)


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
            h = body[i + 1:i + 3]
            if len(h) != 2 or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                raise ValueError("invalid syntax")
            out.append(int(h, 16))
            i += 3
        elif c in "01234567":
            o = body[i:i + 3]
            if len(o) != 3 or any(ch not in "01234567" for ch in o) or int(o, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(int(o, 8))
            i += 3
        elif c in "uU":
            width = 4 if c == "u" else 8
            h = body[i + 1:i + 1 + width]
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
    syntax = ValueError(f'strconv.{fn}: parsing {quote(s)}: invalid syntax')
    rng = ValueError(f'strconv.{fn}: parsing {quote(s)}: value out of range')
    t = s
    neg = False
    if signed and t[:1] in ("+", "-"):
        neg = t[0] == "-"
        t = t[1:]
    if not t:
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

_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1000_000, "s": 1000_000_000,
          "m": 60 * 1000_000_000, "h": 3600 * 1000_000_000}


def parse_duration(s: str) -> int:
    """Go's time.ParseDuration, returning nanoseconds. Raises ValueError with Go's message."""
    orig = s
    bad = ValueError(f"time: invalid duration {quote(orig)}")
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0.0
    while s:
        i = 0
        while i < len(s) and s[i].isdigit():
            i += 1
        int_part = s[:i]
        s = s[i:]
        frac_part = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isdigit():
                j += 1
            frac_part = s[:j]
            s = s[j:]
        if not int_part and not frac_part:
            raise bad
        j = 0
        while j < len(s) and s[j] != "." and not s[j].isdigit():
            j += 1
        unit = s[:j]
        s = s[j:]
        if not unit:
            raise ValueError(f"time: missing unit in duration {quote(orig)}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        mult = _UNITS[unit]
        total += int(int_part or "0") * mult
        if frac_part:
            total += int(frac_part) * mult / (10 ** len(frac_part))
    if total > (1 << 63) - 1:
        raise bad
    v = int(total)
    return -v if neg else v


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
    whole, rem = divmod(v, 10 ** prec)
    if rem == 0:
        return str(whole)
    return f"{whole}." + f"{rem:0{prec}d}".rstrip("0")


# ---------------------------------------------------------------- JSON (encoding/json)

def json_string(s: str | bytes, html_safe: bool = True) -> str:
    """A JSON string as Go's encoding/json writes it: quotes, backslash and control characters
    escaped; with `html_safe` (Go's default) also `<`, `>`, `&` and U+2028/9. zap's JSON encoder
    is the `html_safe=False` variant. Undecodable bytes become U+FFFD, as in Go."""
    if isinstance(s, bytes):
        s = s.decode("utf-8", "surrogateescape")
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or (html_safe and ch in "<>&"):
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or "\\u%04x" % o)
        elif html_safe and o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
