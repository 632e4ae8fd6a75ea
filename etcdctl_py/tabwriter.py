"""Go's text/tabwriter (flags 0): the column layout of etcdctl's help (cobrautl: minwidth 0, tabwidth 8, padding 1,
padchar TAB) and of urfave/cli's help in `ETCDCTL_API=2 etcdctl` (minwidth 1, tabwidth 8, padding 2, padchar ' ').

Not to be confused with output/tablewriter.py, which draws olekukonko/tablewriter's boxed `-w table` output.

A cell is text ended by a TAB; the text after a line's last TAB is not part of any column. A column block is a run
of consecutive lines that have a cell in that column; its width is the widest cell (in runes) plus `padding`, at
least `minwidth`. A line without a TAB flushes the writer: the text after it is laid out on its own.
"""

from __future__ import annotations


class _Layout:
    """One Go tabwriter configuration applied to the lines of one flushed section."""

    def __init__(self, lines: list[list[str]], minwidth: int, tabwidth: int, padding: int, padchar: str) -> None:
        self.lines, self.minwidth, self.tabwidth = lines, minwidth, tabwidth
        self.padding, self.padchar = padding, padchar
        self.widths: list[int] = []
        self.out: list[str] = []

    def pad(self, textw: int, cellw: int) -> str:
        """Go's writePadding: TABs up to the next multiple of tabwidth, or padchar up to the cell width."""
        if self.padchar == "\t":
            cellw = (cellw + self.tabwidth - 1) // self.tabwidth * self.tabwidth
            return "\t" * ((cellw - textw + self.tabwidth - 1) // self.tabwidth)
        return self.padchar * (cellw - textw)

    def write_lines(self, line0: int, line1: int) -> None:
        for cells in self.lines[line0:line1]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell)
                if j < len(self.widths):
                    parts.append(self.pad(len(cell), self.widths[j]))
            self.out.append("".join(parts))

    def format(self, line0: int, line1: int) -> None:
        """Go's Writer.format: find each column block, fix its width, lay out the columns right of it."""
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            self.write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, len(self.lines[this][column]) + self.padding)
                this += 1
            self.widths.append(width)
            self.format(line0, this)
            self.widths.pop()
            line0 = this
        self.write_lines(line0, line1)


def tabwrite(text: str, minwidth: int = 0, tabwidth: int = 8, padding: int = 1, padchar: str = "\t") -> str:
    """`text` written through tabwriter.NewWriter(w, minwidth, tabwidth, padding, padchar, 0) and flushed."""
    ends_nl = text.endswith("\n")
    rows = text.split("\n")
    if ends_nl:
        rows.pop()
    lines = [row.split("\t") for row in rows]
    out: list[str] = []
    start = 0
    for i, cells in enumerate(lines):
        if len(cells) == 1:  # a line of one cell flushes: what follows is laid out afresh
            out += _section(lines[start : i + 1], minwidth, tabwidth, padding, padchar)
            start = i + 1
    out += _section(lines[start:], minwidth, tabwidth, padding, padchar)
    return "\n".join(out) + ("\n" if ends_nl else "")


def _section(lines: list[list[str]], minwidth: int, tabwidth: int, padding: int, padchar: str) -> list[str]:
    layout = _Layout(lines, minwidth, tabwidth, padding, padchar)
    layout.format(0, len(lines))
    return layout.out
