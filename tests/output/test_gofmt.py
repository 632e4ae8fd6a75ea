"""Go formatting rules that leak into etcdctl's output: %q, durations, integers, JSON escaping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdctl_py import gofmt
from etcdctl_py.cli.cobra import _read_csv
from etcdctl_py.tabwriter import tabwrite


@pytest.mark.parametrize(
    "data,want",
    [
        (b"foo", '"foo"'),
        (b"\xff\xfe\x00bin", '"\\xff\\xfe\\x00bin"'),
        ('line1\nline2 é "q" \\ \t tab'.encode(), '"line1\\nline2 é \\"q\\" \\\\ \\t tab"'),
        (b"\x07\x08\x0c\x0b\r", '"\\a\\b\\f\\v\\r"'),
        (b"\x7f", '"\\u007f"'),  # etcdctl 3.5.1 is built with Go 1.16, which quotes DEL as a rune
        ("\u200b".encode(), '"\\u200b"'),  # zero-width space: not printable in Go
        ("😀".encode(), '"😀"'),
        (b"\xe2\x82", '"\\xe2\\x82"'),  # truncated UTF-8 sequence: bytes escaped one by one
    ],
)
def test_quote_like_go(data, want):
    assert gofmt.quote(data) == want


@given(st.binary(max_size=40))
def test_unquote_inverts_quote(data):
    assert gofmt.unquote(gofmt.quote(data)) == data


@pytest.mark.parametrize(
    "text,ns",
    [
        ("2s", 2_000_000_000),
        ("500ms", 500_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("0", 0),
        ("10us", 10_000),
        ("-3s", -3_000_000_000),
    ],
)
def test_parse_duration(text, ns):
    assert gofmt.parse_duration(text) == ns


@pytest.mark.parametrize(
    "text,msg",
    [
        ("3", 'time: missing unit in duration "3"'),
        ("abc", 'time: invalid duration "abc"'),
        ("3x", 'time: unknown unit "x" in duration "3x"'),
        ("", 'time: invalid duration ""'),
    ],
)
def test_parse_duration_errors(text, msg):
    with pytest.raises(ValueError) as e:
        gofmt.parse_duration(text)
    assert str(e.value) == msg


@pytest.mark.parametrize(
    "ns,text",
    [
        (0, "0s"),
        (2_941_594, "2.941594ms"),
        (850_000, "850µs"),
        (5, "5ns"),
        (5_002_716_674, "5.002716674s"),
        (62_500_000_000, "1m2.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (2_000_000_000, "2s"),
    ],
)
def test_format_duration(ns, text):
    assert gofmt.format_duration(ns) == text


def test_parse_int_like_strconv():
    assert gofmt.parse_int("0x10") == 16
    assert gofmt.parse_int("010") == 8
    assert gofmt.parse_int("1_000") == 1000
    assert gofmt.parse_int("ff", 16) == 255
    assert gofmt.parse_int("-8000000000000000", 16) == -(1 << 63)
    with pytest.raises(ValueError, match=r'strconv.ParseInt: parsing "abc": invalid syntax'):
        gofmt.parse_int("abc")
    with pytest.raises(ValueError, match=r'strconv.ParseInt: parsing "zz": invalid syntax'):
        gofmt.parse_int("zz", 16)
    with pytest.raises(ValueError, match="value out of range"):
        gofmt.parse_int("9223372036854775808")
    with pytest.raises(ValueError, match=r"strconv.ParseUint"):
        gofmt.parse_int("-1", 0, 64, signed=False)


def test_json_string_escapes_like_encoding_json():
    assert gofmt.json_string("a<b>&c") == '"a\\u003cb\\u003e\\u0026c"'
    assert gofmt.json_string("é\u2028\x01\n") == '"é\\u2028\\u0001\\n"'


def test_tabwriter_pads_with_tabs_per_block():
    text = "\tget\tGets\n\tlease keep-alive\tKeeps\nplain line\n\ta\tb\n"
    assert tabwrite(text) == "\tget\t\t\tGets\n\tlease keep-alive\tKeeps\nplain line\n\ta\tb\n"


def test_tabwriter_pads_with_spaces_as_urfave_cli_sets_it():
    """urfave/cli's help writer (minwidth 1, tabwidth 8, padding 2, ' '): a column is sized over the run of lines
    that have a cell in it; a line without a TAB starts afresh."""
    text = "   a\tx\n   bbb\ty\nno tab\n   c\tz\na\tbb\tc\nddd\te\tf"
    assert (
        tabwrite(text, minwidth=1, tabwidth=8, padding=2, padchar=" ")
        == "   a    x\n   bbb  y\nno tab\n   c  z\na     bb  c\nddd   e   f"
    )


@pytest.mark.parametrize(
    "text,want",
    [
        ("a,b", ["a", "b"]),
        ('"a,b",c', ["a,b", "c"]),
        ("", []),
        ('"say ""hi""",x', ['say "hi"', "x"]),
        (" a , b ", [" a ", " b "]),
    ],
)
def test_string_slice_values_read_as_csv(text, want):
    assert _read_csv(text) == want
