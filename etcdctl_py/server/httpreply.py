"""What etcd's HTTP/1.1 handlers answer, as plain values: the reply types, Go's http.Error forms and the header
block Go's net/http writes around a handler's headers.

The front listener (frontend.py) sends these with h11; the handlers (frontend.HttpApp, the v2 API in
etcdctl_py.server.v2) build them without knowing about sockets. Kept apart from both so the v2 package and the
listener share one copy of each rule without importing each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate

Headers = list[tuple[str, str]]
Result = tuple[int, Headers, bytes]

TEXT = "text/plain; charset=utf-8"
CHUNKING_THRESHOLD = 2048  # net/http's bufferBeforeChunkingSize: a larger body is sent chunked, without a length
# etcd's accessController with the default --cors=*, on every HTTP/1.1 answer of the client port
CORS: Headers = [
    ("Access-Control-Allow-Headers", "accept, content-type, authorization"),
    ("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE"),
    ("Access-Control-Allow-Origin", "*"),
]

# Go's http.StatusText for the statuses etcd's handlers and net/http's own errors use
REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Streamed:
    """A reply whose body is written as it is produced (etcd's v2 waits): the header block goes out at once (Go's
    Flush), then each chunk, flushed. `close` is called once the reply ends, also when the client hung up before
    `chunks` was done (or started), to release what it holds."""

    status: int
    headers: Headers
    chunks: AsyncIterator[bytes]
    close: Callable[[], None] = field(default=lambda: None)


Reply = Result | Streamed


def http_error(status: int, text: str, extra: Iterable[tuple[str, str]] = ()) -> Result:
    """net/http's http.Error: plain text plus a newline, never sniffed."""
    return status, [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff"), *extra], (text + "\n").encode()


def not_found() -> Result:
    """net/http's NotFound handler."""
    return http_error(404, "404 page not found")


def not_allowed(*methods: str) -> Result:
    """etcd's allowMethod refusal: 405 with the Allow list."""
    return http_error(405, "Method Not Allowed", [("Allow", ",".join(methods))])


def body_allowed(status: int) -> bool:
    """net/http's bodyAllowedForStatus."""
    return not (100 <= status < 200 or status in (204, 304))


def header_block(status: int, headers: Headers, body: bytes, *, head: bool, length_known: bool) -> Headers:
    """The headers Go's net/http sends for a handler's reply: the handler's own sorted by name, then Date, the
    Content-Length it counted (only for a body it saw whole: `length_known`) and a sniffed Content-Type when the
    handler set none. The framing headers (Transfer-Encoding, Connection) are h11's to add after these."""
    out = sorted(headers, key=lambda kv: kv[0])
    out.append(("Date", formatdate(usegmt=True)))
    has_type = any(k.lower() == "content-type" for k, _ in headers)
    if body_allowed(status):
        if length_known and (body or not head):
            out.append(("Content-Length", str(len(body))))
        if body and not has_type:
            out.append(("Content-Type", TEXT))  # DetectContentType of etcd's text and JSON bodies
    return out
