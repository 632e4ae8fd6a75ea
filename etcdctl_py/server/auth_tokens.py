"""etcd's "simple" auth tokens (server/auth/simple_token.go).

A token is `<16 random letters>.<raft index of the Authenticate entry>`; it lives in memory
only, expires after --auth-token-ttl seconds without use (each use renews it), and every token
of a user dies when the user is deleted or changes password, or when auth is disabled.
"""

from __future__ import annotations

import secrets
import threading
import time

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PREFIX_LEN = 16
DEFAULT_TTL = 300.0


class SimpleTokens:
    def __init__(self, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = ttl if ttl > 0 else DEFAULT_TTL
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expiry)
        self.active = False

    @staticmethod
    def gen_prefix() -> str:
        return "".join(secrets.choice(LETTERS) for _ in range(PREFIX_LEN))

    def enable(self) -> None:
        with self.lock:
            self.active = True

    def disable(self) -> None:
        with self.lock:
            self.active = False
            self.tokens.clear()

    def assign(self, user: str, prefix: str, index: int) -> str:
        token = f"{prefix}.{index}"
        with self.lock:
            if self.active:
                self.tokens[token] = (user, time.monotonic() + self.ttl)
        return token

    def invalidate_user(self, user: str) -> None:
        with self.lock:
            for t in [t for t, (u, _) in self.tokens.items() if u == user]:
                del self.tokens[t]

    def lookup(self, token: str, applied_index: int) -> str | None:
        """The user of a live token (renewing it), None when unknown, malformed or expired."""
        parts = token.split(".")
        if len(parts) != 2 or not parts[1].isdigit():
            return None
        if int(parts[1]) > applied_index:
            return None  # etcd waits for that index; one member has applied everything it has
        now = time.monotonic()
        with self.lock:
            hit = self.tokens.get(token)
            if hit is None:
                return None
            user, expiry = hit
            if now > expiry:
                del self.tokens[token]
                return None
            self.tokens[token] = (user, now + self.ttl)
            return user
