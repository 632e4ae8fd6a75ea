"""Printers on hand-built responses: the Go encoding/json shape and the fields/simple layouts."""

from __future__ import annotations

import io

from etcdctl_py.output import new_printer
from etcdctl_py.output.json import encode
from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.proto.mvccpb import kv_pb2


def render(fmt: str, method: str, resp, **kw) -> bytes:
    p = new_printer(fmt, False)
    p.out = io.BytesIO()
    getattr(p, method)(resp, **kw)
    return p.out.getvalue()


def test_json_omits_zero_fields_and_keeps_uint64_precision():
    r = rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(cluster_id=15506631597640666836, revision=2))
    r.kvs.add(key=b"foo", create_revision=2, mod_revision=2, version=1, value=b"")
    assert encode(r) == (
        '{"header":{"cluster_id":15506631597640666836,"revision":2},'
        '"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1}]}'
    )


def test_json_oneof_is_wrapped_like_the_go_interface_field():
    r = rpc_pb2.TxnResponse(succeeded=True)
    r.responses.add().response_put.SetInParent()
    assert encode(r) == '{"succeeded":true,"responses":[{"Response":{"response_put":{}}}]}'


def test_json_enums_are_numbers():
    ev = kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"k"))
    assert encode(ev) == '{"type":1,"kv":{"key":"aw=="}}'


def test_simple_and_hex():
    r = rpc_pb2.RangeResponse()
    r.kvs.add(key=b"foo", value=b"bar")
    assert render("simple", "get", r) == b"foo\nbar\n"
    assert render("simple", "get", r, value_only=True) == b"bar\n"
    p = new_printer("simple", True)
    p.out = io.BytesIO()
    p.get(r)
    assert p.out.getvalue() == b"\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n"


def test_fields_put_without_prev_is_header_only():
    r = rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(cluster_id=1, member_id=2, revision=3, raft_term=4))
    assert render("fields", "put", r) == b'"ClusterID" : 1\n"MemberID" : 2\n"Revision" : 3\n"RaftTerm" : 4\n'


def test_unknown_format_and_unsupported_pair():
    import pytest

    from etcdctl_py.output.printer import UnsupportedFormat

    assert new_printer("xml", False) is None
    with pytest.raises(UnsupportedFormat, match="table not supported as output format"):
        render("table", "get", rpc_pb2.RangeResponse())
