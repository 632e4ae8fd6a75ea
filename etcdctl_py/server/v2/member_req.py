"""The body of POST/PUT /v2/members: `{"peerURLs": [...]}` checked like etcd's MemberCreateRequest
(encoding/json into a struct, then types.NewURLs), with Go's error texts for the usual mistakes."""

from __future__ import annotations

import json

from etcdctl_py.server.gateway_json import GoJSONError, unmarshal

_GO_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _check_url(raw: str) -> str:
    """types.NewURLs for one URL: the normalized text, or ValueError with etcd's message."""
    u = raw.strip(" \t\r\n\v\f")
    scheme, sep, rest = u.partition("://")
    scheme = scheme.lower() if sep else ""
    host = rest.split("/", 1)[0] if sep else ""
    path = rest[len(host) :] if sep else u
    if scheme in ("http", "https"):
        hp = host.rsplit("]", 1)[-1]
        if ":" not in hp or host.count(":") > 1 and not host.startswith("["):
            raise ValueError(f'URL address does not have the form "host:port": {u}')
    elif scheme not in ("unix", "unixs"):
        raise ValueError(f"URL scheme must be http, https, unix, or unixs: {u}")
    if path:
        raise ValueError(f"URL must not contain a path: {u}")
    return f"{scheme}://{host}"


def parse_peer_urls(body: bytes) -> list[str]:
    """Sorted peer URLs, or ValueError whose text etcd would put in `{"message": ...}` (HTTP 400)."""
    try:
        unmarshal(body)  # Go's syntax errors; the checked text then decodes the same with json
    except GoJSONError as e:
        raise ValueError(str(e)) from None
    doc = json.loads(body.decode("utf-8", "replace"))
    urls: list = []
    if isinstance(doc, dict):
        for k, v in doc.items():  # encoding/json matches field names case-insensitively; last wins
            if k.lower() != "peerurls":
                continue
            if v is None:
                urls = []
            elif not isinstance(v, list):
                raise ValueError(
                    f"json: cannot unmarshal {_GO_KIND.get(type(v), 'value')} into Go struct field "
                    f".peerURLs of type []string"
                )
            else:
                for x in v:
                    if not isinstance(x, str) and x is not None:
                        raise ValueError(
                            f"json: cannot unmarshal {_GO_KIND.get(type(x), 'value')} into Go struct "
                            f"field .peerURLs of type string"
                        )
                urls = [x or "" for x in v]
    elif doc is not None:
        raise ValueError(
            f"json: cannot unmarshal {_GO_KIND.get(type(doc), 'value')} into Go value of type "
            'struct { PeerURLs []string "json:\\"peerURLs\\"" }'
        )
    if not urls:
        raise ValueError("no valid URLs given")
    return sorted(_check_url(u) for u in urls)
