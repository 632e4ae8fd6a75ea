"""The body of POST/PUT /v2/members: `{"peerURLs": [...]}` checked like etcd's MemberCreateRequest
(encoding/json into a struct, then types.NewURLs), with Go's error texts for the usual mistakes."""

from __future__ import annotations

import json

_GO_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _quote_char(c: str) -> str:
    """encoding/json's quoteChar."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    q = json.dumps(c, ensure_ascii=False)[1:-1]
    return "'" + q + "'"


def _syntax_error(text: str, err: json.JSONDecodeError) -> str:
    """Go's scanner message for the common cases (empty input, a bad first character)."""
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    c = stripped[0]
    if c not in '{["-0123456789tfn':
        return f"invalid character {_quote_char(c)} looking for beginning of value"
    for lit in ("true", "false", "null"):
        if c == lit[0]:
            for i, ch in enumerate(stripped[1 : len(lit)], start=1):
                if ch != lit[i]:
                    return f"invalid character {_quote_char(ch)} in literal {lit} (expecting {_quote_char(lit[i])})"
    if err.pos >= len(text):
        return "unexpected end of JSON input"
    return f"invalid character {_quote_char(text[err.pos])} looking for beginning of value"


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
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(_syntax_error(text, e)) from None
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
