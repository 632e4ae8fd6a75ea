"""ASCII tables exactly as olekukonko/tablewriter v0.0.5 renders them for etcdctl/etcdutl
(`-w table`): box borders, headers upper-cased and centred (odd padding goes right), cells
right-aligned (etcdctl calls SetAlignment(ALIGN_RIGHT)), cells wider than 30 columns word-wrapped
with the minimum-raggedness algorithm, widths in display cells as go-runewidth v0.0.9 counts them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from bisect import bisect_right

ALIGN_DEFAULT = 0
ALIGN_CENTER = 1
ALIGN_RIGHT = 2
ALIGN_LEFT = 3

MAX_ROW_WIDTH = 30
_PENALTY = 100000
_MAXINT32 = 2**31 - 1

_ANSI = re.compile("\033\\[(?:[0-9]{1,3}(?:;[0-9]{1,3})*)?[m|K]")
_DECIMAL = re.compile(r"^-?(?:[0-9]{1,3}(?:,[0-9]{3})*|[0-9]+)(?:\.[0-9]+)?\Z")
_PERCENT = re.compile(r"^-?[0-9]+\.?[0-9]*$%$")  # can never match, as in tablewriter
# Go's unicode.IsSpace set, for strings.TrimSpace
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# go-runewidth v0.0.9 counts these as zero width (its `nonprint`, `combining`, `notassigned` tables).
_ZERO_RANGES = sorted(
    [
        (0x0000, 0x001F),
        (0x007F, 0x009F),
        (0x00AD, 0x00AD),
        (0x070F, 0x070F),
        (0x180B, 0x180E),
        (0x200B, 0x200F),
        (0x2028, 0x202E),
        (0x206A, 0x206F),
        (0xD800, 0xDFFF),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0xFFFE, 0xFFFF),
        (0x0300, 0x036F),
        (0x0483, 0x0489),
        (0x07EB, 0x07F3),
        (0x0C00, 0x0C00),
        (0x0C04, 0x0C04),
        (0x0D00, 0x0D01),
        (0x135D, 0x135F),
        (0x1A7F, 0x1A7F),
        (0x1AB0, 0x1AC0),
        (0x1B6B, 0x1B73),
        (0x1DC0, 0x1DF9),
        (0x1DFB, 0x1DFF),
        (0x20D0, 0x20F0),
        (0x2CEF, 0x2CF1),
        (0x2DE0, 0x2DFF),
        (0x3099, 0x309A),
        (0xA66F, 0xA672),
        (0xA674, 0xA67D),
        (0xA69E, 0xA69F),
        (0xA6F0, 0xA6F1),
        (0xA8E0, 0xA8F1),
        (0xFE20, 0xFE2F),
        (0x101FD, 0x101FD),
        (0x10376, 0x1037A),
        (0x10EAB, 0x10EAC),
        (0x10F46, 0x10F50),
        (0x11300, 0x11301),
        (0x1133B, 0x1133C),
        (0x11366, 0x1136C),
        (0x11370, 0x11374),
        (0x16AF0, 0x16AF4),
        (0x1D165, 0x1D169),
        (0x1D16D, 0x1D172),
        (0x1D17B, 0x1D182),
        (0x1D185, 0x1D18B),
        (0x1D1AA, 0x1D1AD),
        (0x1D242, 0x1D244),
        (0x1E000, 0x1E006),
        (0x1E008, 0x1E018),
        (0x1E01B, 0x1E021),
        (0x1E023, 0x1E024),
        (0x1E026, 0x1E02A),
        (0x1E8D0, 0x1E8D6),
        (0x27E6, 0x27ED),
        (0x2985, 0x2986),
    ]
)
_ZERO_STARTS = [a for a, _b in _ZERO_RANGES]


def _east_asian_env() -> bool:
    """go-runewidth's locale rule: RUNEWIDTH_EASTASIAN, else a CJK multibyte locale."""
    env = os.environ.get("RUNEWIDTH_EASTASIAN", "")
    if env:
        return env == "1"
    loc = os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG") or ""
    if loc in ("POSIX", "C") or (len(loc) > 1 and loc[0] == "C" and loc[1] in ".-"):
        return False
    charset = loc.lower()
    m = re.match(r"^[a-z][a-z][a-z]?(?:_[A-Z][A-Z])?\.(.+)", loc)
    if m:
        charset = m.group(1).lower()
    if charset.endswith("@cjk_narrow"):
        return False
    charset = charset.split("@", 1)[0]
    mblen = {
        "utf-8": 6,
        "utf8": 6,
        "jis": 8,
        "eucjp": 3,
        "euckr": 2,
        "euccn": 2,
        "sjis": 2,
        "cp932": 2,
        "cp51932": 2,
        "cp936": 2,
        "cp949": 2,
        "cp950": 2,
        "big5": 2,
        "gbk": 2,
        "gb2312": 2,
    }.get(charset, 1)
    return mblen > 1 and (not charset.startswith("u") or loc[:2] in ("ja", "ko", "zh"))


def rune_width(ch: str, east_asian: bool | None = None) -> int:
    """Display cells of one character (0, 1 or 2)."""
    cp = ord(ch)
    i = bisect_right(_ZERO_STARTS, cp) - 1
    if i >= 0 and _ZERO_RANGES[i][0] <= cp <= _ZERO_RANGES[i][1]:
        return 0
    eaw = unicodedata.east_asian_width(ch)
    if eaw in ("W", "F"):
        return 2
    if eaw == "A" and (east_asian if east_asian is not None else _east_asian_env()):
        return 2
    return 1


def string_width(s: str) -> int:
    if s.isascii():
        return sum(1 for c in s if " " <= c < "\x7f")
    ea = _east_asian_env()
    return sum(rune_width(c, ea) for c in s)


def display_width(s: str) -> int:
    """tablewriter.DisplayWidth: width without ANSI colour sequences."""
    return string_width(_ANSI.sub("", s))


def title(name: str) -> str:
    """tablewriter.Title: '_' -> ' ', '.' -> ' ' unless between digits/spaces, trimmed, upper-cased."""
    orig = len(name)
    rs = list(name)
    for i, r in enumerate(rs):
        if r == "_":
            rs[i] = " "
        elif r == ".":
            if (i != 0 and not _num_or_space(rs[i - 1])) or (i != len(rs) - 1 and not _num_or_space(rs[i + 1])):
                rs[i] = " "
    out = "".join(rs).strip(_GO_SPACE)
    if not out and orig > 0:
        out = " "
    return out.upper()


def _num_or_space(r: str) -> bool:
    return "0" <= r <= "9" or r == " "


def _pad_center(s: str, width: int) -> str:
    gap = width - display_width(s)
    if gap > 0:
        left = gap // 2
        return " " * left + s + " " * (gap - left)
    return s


def _pad_right(s: str, width: int) -> str:
    gap = width - display_width(s)
    return s + " " * gap if gap > 0 else s


def _pad_left(s: str, width: int) -> str:
    gap = width - display_width(s)
    return " " * gap + s if gap > 0 else s


def wrap_words(words: list[str], spc: int, lim: int, pen: int) -> list[list[str]]:
    """Minimum-raggedness line breaking (tablewriter.WrapWords)."""
    n = len(words)
    widths = [string_width(w) for w in words]
    length = [[0] * n for _ in range(n)]
    for i in range(n):
        length[i][i] = widths[i]
        for j in range(i + 1, n):
            length[i][j] = length[i][j - 1] + spc + widths[j]
    nbrk = [0] * n
    cost = [_MAXINT32] * n
    for i in range(n - 1, -1, -1):
        if length[i][n - 1] <= lim:
            cost[i] = 0
            nbrk[i] = n
        else:
            for j in range(i + 1, n):
                d = lim - length[i][j - 1]
                c = d * d + cost[j]
                if length[i][j - 1] > lim:
                    c += pen
                if c < cost[i]:
                    cost[i] = c
                    nbrk[i] = j
    lines = []
    i = 0
    while i < n:
        lines.append(words[i : nbrk[i]])
        i = nbrk[i]
    return lines


def wrap_string(s: str, lim: int) -> tuple[list[str], int]:
    """tablewriter.WrapString: words split on single spaces (newlines count as spaces)."""
    words = s.replace("\n", " ").split(" ")
    for w in words:
        mx = string_width(w)
        if mx > lim:
            lim = mx
    return [" ".join(line) for line in wrap_words(words, 1, lim, _PENALTY)], lim


class Table:
    """The subset of tablewriter.Table that etcd uses (defaults of NewWriter)."""

    def __init__(
        self,
        *,
        col_width: int = MAX_ROW_WIDTH,
        auto_wrap: bool = True,
        reflow: bool = True,
        auto_format_headers: bool = True,
    ) -> None:
        self.mw = col_width
        self.auto_wrap = auto_wrap
        self.reflow = reflow
        self.auto_fmt = auto_format_headers
        self.align = ALIGN_DEFAULT
        self.cs: dict[int, int] = {}
        self.rs: dict[int, int] = {}
        self.headers: list[list[str]] = []
        self.lines: list[list[list[str]]] = []

    def set_alignment(self, align: int) -> None:
        self.align = align

    def _parse_dimension(self, s: str, col: int, row: int) -> list[str]:
        raw = s.split("\n")
        max_width = max(display_width(line) for line in raw)
        if self.auto_wrap:
            if max_width > self.mw:
                max_width = self.mw
            new_max = max_width
            new_raw: list[str] = []
            if self.reflow:
                raw = [" ".join(raw)]
            for i, para in enumerate(raw):
                para_lines, _ = wrap_string(para, max_width)
                for line in para_lines:
                    w = display_width(line)
                    if w > new_max:
                        new_max = w
                if i > 0:
                    new_raw.append(" ")
                new_raw.extend(para_lines)
            raw = new_raw
            max_width = new_max
        v = self.cs.get(col)
        if v is None or v < max_width or v == 0:
            self.cs[col] = max_width
        h = len(raw)
        v = self.rs.get(row)
        if v is None or v < h or v == 0:
            self.rs[row] = h
        return raw

    def set_header(self, keys: list[str]) -> None:
        for i, v in enumerate(keys):
            self.headers.append(self._parse_dimension(v, i, -1))

    def append(self, row: list[str]) -> None:
        n = len(self.lines)
        self.lines.append([self._parse_dimension(v, i, n) for i, v in enumerate(row)])

    def _line(self) -> str:
        return "+" + "".join("-" + "-" * self.cs[i] + "-+" for i in range(len(self.cs))) + "\n"

    def render(self) -> str:
        out = [self._line()]
        if self.headers:
            end = len(self.cs) - 1
            for x in range(self.rs[-1]):
                parts = ["|"]
                for y in range(end + 1):
                    h = ""
                    if y < len(self.headers) and x < len(self.headers[y]):
                        h = self.headers[y][x]
                    if self.auto_fmt:
                        h = title(h)
                    parts.append(" " + _pad_center(h, self.cs[y]) + " |")
                out.append("".join(parts) + "\n")
            out.append(self._line())
        for idx, columns in enumerate(self.lines):
            height = self.rs[idx]
            cols = [c + ["  "] * (height - len(c)) for c in columns]
            for x in range(height):
                parts = []
                for y, col in enumerate(cols):
                    s = col[x]
                    parts.append("| ")
                    w = self.cs[y]
                    if self.align == ALIGN_CENTER:
                        parts.append(_pad_center(s, w))
                    elif self.align == ALIGN_RIGHT:
                        parts.append(_pad_left(s, w))
                    elif self.align == ALIGN_LEFT:
                        parts.append(_pad_right(s, w))
                    elif _DECIMAL.match(s.strip(_GO_SPACE)) or _PERCENT.match(s.strip(_GO_SPACE)):
                        parts.append(_pad_left(s, w))
                    else:
                        parts.append(_pad_right(s, w))
                    parts.append(" ")
                out.append("".join(parts) + "|\n")
        out.append(self._line())
        return "".join(out)


def render(header: list[str], rows: list[list[str]], align: int = ALIGN_RIGHT) -> str:
    """The whole table as etcdctl prints it (SetHeader, Append each row, SetAlignment, Render)."""
    t = Table()
    t.set_header(header)
    for r in rows:
        t.append(r)
    t.set_alignment(align)
    return t.render()
