"""The v2 cluster client: endpoint list with failover, member sync, basic auth, cURL debug.

Mirrors client/v2's httpClusterClient: endpoints are shuffled, a pinned endpoint is tried
first, 5xx answers and transport errors move on to the next endpoint (except one-shot
requests such as create/delete, which must not be retried elsewhere), and the failures
are collected into a ClusterError.
"""

from __future__ import annotations

import base64
import random
import sys
from urllib.parse import urlsplit

from etcdctl_py.gofmt import quote as go_quote  # Go's %q of the request body

from .errors import NO_ENDPOINTS, ClusterError, PlainError, V2Error
from .members import MembersAPI
from .transport import Deadline, Request, Response, Transport


class Client:
    """Talks to a list of endpoints like etcd's Go v2 client."""

    def __init__(
        self,
        endpoints: list[str],
        transport: Transport,
        username: str = "",
        password: str = "",
        debug: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.credentials = (username, password) if username else None
        self.debug = debug
        self.rng = rng or random.Random()
        self.endpoints: list[str] = []
        self.pinned = 0
        self.set_endpoints(endpoints)

    def set_endpoints(self, eps: list[str]) -> None:
        if not eps:
            raise PlainError(NO_ENDPOINTS)
        eps = list(eps)
        self._shuffle(eps)
        self.endpoints = eps
        self.pinned = 0

    def _shuffle(self, eps: list[str]) -> None:
        # Same permutation construction as client/v2's shuffleEndpoints (random either way).
        n = len(eps)
        p = [0] * n
        for i in range(n):
            j = self.rng.randint(0, i)
            p[i] = p[j]
            p[j] = i
        eps[:] = [eps[k] for k in p]

    def _curl(self, endpoint: str, req: Request) -> None:
        if not self.debug:
            return
        cmd = f"curl -X {req.method} {req.url(endpoint)}"
        if req.body is not None:
            cmd += " -d " + go_quote(req.body)
        sys.stderr.write(f"cURL Command: {cmd}\n")
        sys.stderr.flush()

    def _prepare(self, req: Request) -> Request:
        if self.credentials is None:
            return req
        u, p = self.credentials
        token = base64.b64encode(f"{u}:{p}".encode("utf-8", "surrogateescape")).decode()
        headers = {**req.headers, "Authorization": "Basic " + token}
        return Request(req.method, req.path, req.query, req.body, headers, req.wait)

    def do_one(self, endpoint: str, req: Request, deadline: Deadline) -> Response:
        """One endpoint, following redirects like redirectFollowingHTTPClient."""
        req = self._prepare(req)
        target = endpoint
        for i in range(100):
            if i > 10:
                raise PlainError("client: too many redirects")
            self._curl(target, req)
            resp = self.transport.round_trip(target, req, deadline)
            if resp.status // 100 != 3:
                return resp
            loc = resp.header("location")
            if not loc:
                raise PlainError("location header not set")
            u = urlsplit(loc)
            target = f"{u.scheme}://{u.netloc}"
            req = Request(req.method, u.path, u.query, req.body, req.headers, req.wait)
        raise PlainError("client: too many redirect checks")

    def do(self, req: Request, deadline: Deadline, one_shot: bool = False) -> Response:
        eps = list(self.endpoints)
        if not eps:
            raise PlainError(NO_ENDPOINTS)
        errors: list[V2Error] = []
        n = len(eps)
        for i in range(self.pinned, self.pinned + n):
            k = i % n
            err: V2Error | None = None
            resp: Response | None = None
            try:
                resp = self.do_one(eps[k], req, deadline)
            except V2Error as e:
                if str(e) == "context deadline exceeded":
                    raise
                errors.append(e)
                err = e
            if resp is not None and resp.status // 100 == 5:
                if resp.status in (500, 503):
                    errors.append(PlainError(f"client: etcd member {eps[k]} has no leader"))
                else:
                    errors.append(
                        PlainError(f"client: etcd member {eps[k]} returns server error [{_status_text(resp.status)}]")
                    )
                err = errors[0]
            if err is not None:
                if not one_shot:
                    continue
                self.pinned = (k + 1) % n
                raise err
            if k != self.pinned:
                self.pinned = k
            assert resp is not None
            return resp
        raise ClusterError(errors)

    def sync(self, deadline: Deadline) -> None:
        """Replace the endpoints with the members' client URLs (client.Sync, random mode)."""
        members = MembersAPI(self).list(deadline)
        eps = [u for m in members for u in m.client_urls]
        if not eps:
            raise PlainError(NO_ENDPOINTS)
        if sorted(eps) == sorted(self.endpoints):
            return
        self._shuffle(eps)
        self.endpoints = eps
        self.pinned = 0


def _status_text(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
