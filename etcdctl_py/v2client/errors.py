"""Error values of the v2 client, with the exact texts etcd's Go client (client/v2) prints.

etcdctl v2 prints errors with Go's `%v`, so each class's `str()` is the Go `Error()` string.
"""

from __future__ import annotations


class V2Error(Exception):
    """Base of every v2 client error."""

    connection = False  # counts as a connection error for etcdctl's exit code choice

    def __str__(self) -> str:  # pragma: no cover - subclasses override
        return self.args[0] if self.args else ""


class PlainError(V2Error):
    """An error with a fixed message (fmt.Errorf / errors.New in Go)."""

    def __init__(self, message: str, connection: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.connection = connection

    def __str__(self) -> str:
        return self.message


class EtcdError(V2Error):
    """A keys-API error body: `{"errorCode":100,"message":...,"cause":...,"index":N}`."""

    def __init__(self, code: int, message: str, cause: str, index: int) -> None:
        super().__init__(code, message, cause, index)
        self.code, self.message, self.cause, self.index = code, message, cause, index

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.cause}) [{self.index}]"


class ClusterError(V2Error):
    """Every endpoint failed; `str()` and `detail()` mirror client.ClusterError."""

    def __init__(self, errors: list[V2Error]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def connection(self) -> bool:  # type: ignore[override]
        return all(e.connection for e in self.errors)

    def __str__(self) -> str:
        s = "client: etcd cluster is unavailable or misconfigured"
        for i, e in enumerate(self.errors):
            s += f"; error #{i}: {e}\n"
        return s

    def detail(self) -> str:
        return "".join(f"error #{i}: {e}\n" for i, e in enumerate(self.errors))


class MessageError(V2Error):
    """Members/auth API error bodies (`{"message": ...}`), printed as the bare message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


DEADLINE = "context deadline exceeded"
INVALID_JSON = "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint"
EMPTY_BODY = "client: response body is empty"
NO_ENDPOINTS = "client: no endpoints available"


def deadline_exceeded() -> PlainError:
    """The total-timeout context expired (a net.Error with Timeout() in Go: a connection error)."""
    return PlainError(DEADLINE, connection=True)
