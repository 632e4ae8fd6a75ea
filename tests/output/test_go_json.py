"""gofmt.go_json against what Go's encoding/json (json.Marshal, Go 1.16 as in etcd 3.5.1) writes for the same
values. The v2 wire test (tests/v2/test_http_wire.py) checks the same escapes against a running etcd."""

from __future__ import annotations

import pytest

from etcdctl_py import gofmt

# (value, json.Marshal's output)
MARSHAL = [
    ("<a & b>", r'"\u003ca \u0026 b\u003e"'),  # HTML-safe by default
    ("\u2028\u2029", r'"\u2028\u2029"'),  # escaped unconditionally (JSONP)
    ("\x00\x1f\x7f", '"\\u0000\\u001f\x7f"'),  # control characters; DEL stays raw
    ("\b\f\n\r\t", r'"\u0008\u000c\n\r\t"'),  # only \n \r \t have short forms in Go 1.16
    ('"\\', r'"\"\\"'),
    ("é☃😀", '"é☃😀"'),  # no ASCII escaping of valid UTF-8
    (b"\xff<", r'"\ufffd\u003c"'),  # each undecodable byte: an escaped U+FFFD
    (b"\xe2\x82", r'"\ufffd\ufffd"'),  # a truncated sequence: one per byte
    (b"\xed\xa0\x80", r'"\ufffd\ufffd\ufffd"'),  # an encoded surrogate is invalid UTF-8
    ("a\udcffb", r'"a\ufffdb"'),  # the same byte, as surrogateescape decoding keeps it
    (None, "null"),
    ([None, True, False, 1, -2, 2.5], "[null,true,false,1,-2,2.5]"),
    ([], "[]"),
    ({}, "{}"),
    ({"b": 1, "a": [{"y": "<", "x": None}]}, r'{"b":1,"a":[{"y":"\u003c","x":null}]}'),  # struct: field order
    (18446744073709551615, "18446744073709551615"),  # uint64 max
    (1e-7, "1e-7"),
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (0.000001, "0.000001"),
    (1.0, "1"),
    (-0.5, "-0.5"),
    (123456789.125, "123456789.125"),
]


@pytest.mark.parametrize("value,want", MARSHAL, ids=[repr(v)[:30] for v, _ in MARSHAL])
def test_go_json_is_encoding_json(value, want):
    assert gofmt.go_json(value) == want


def test_map_keys_sorted_like_a_go_map():
    assert (
        gofmt.go_json({"username": "u", "revision": 3, "exp": 9, "nested": {"z": 1, "a": 2}}, sort_keys=True)
        == '{"exp":9,"nested":{"a":2,"z":1},"revision":3,"username":"u"}'
    )


def test_zap_variant_is_not_html_safe():
    """zap's JSON encoder (html_safe=False) leaves <, >, & and U+2028 alone but still escapes bad bytes."""
    assert gofmt.json_string("<&>\u2028", html_safe=False) == '"<&>\u2028"'
    assert gofmt.json_string(b"\xff\n", html_safe=False) == r'"\ufffd\n"'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object()])
def test_unsupported_values_raise(bad):
    with pytest.raises((ValueError, TypeError)):
        gofmt.go_json(bad)


def test_go_struct_tags():
    """omitempty drops zero values, a pointer drops only nil, an untagged field stays: v2's NodeExtern shape."""
    node = gofmt.go_struct(
        ("key", "", "omitempty"),
        ("value", "", "ptr"),
        ("dir", False, "omitempty"),
        ("expiration", None, "ptr"),
        ("nodes", [], "omitempty"),
        ("roles", None, ""),
        ("modifiedIndex", 7, "omitempty"),
    )
    assert gofmt.go_json(node) == '{"value":"","roles":null,"modifiedIndex":7}'
