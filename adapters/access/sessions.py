"""Console sign-ins: an API key exchanged for a short-lived session, with a CSRF token for actions.

A person signs in to the console with an API key once; the browser then
holds a random session token in an HttpOnly, SameSite=Strict cookie (script
cannot read it, other sites cannot send it) and the page holds a CSRF token
it sends in a header with every action. The server keeps, per session, only
the SHA-256 of its token, the digest of the key it was opened with (never
the key) and when it ends, in memory: a restart signs everyone out, and a
revoked key ends its sessions at their next request, because every request
looks the key up again by its digest. Sessions end after a fixed lifetime
(`FENGKONG_SESSION_MINUTES`), at sign-out, or when the oldest is dropped to
keep at most MAX_SESSIONS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    key_digest: str
    csrf: str
    expires: float  # on the store's clock (seconds)

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Sessions:
    """Open sessions by the digest of their token; thread-safe (the API serves requests on a thread pool)."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._open: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, key_digest: str) -> tuple[str, Session]:
        """A new session for the key with this digest: (its token, for the cookie; the session)."""
        token = secrets.token_urlsafe(32)
        session = Session(key_digest, secrets.token_urlsafe(32), self.clock() + self.lifetime_s)
        with self._lock:
            self._open[_digest(token)] = session
            while len(self._open) > MAX_SESSIONS:
                self._open.popitem(last=False)
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The open session of a token (None: unknown, closed or expired; an expired one is dropped)."""
        if not token:
            return None
        with self._lock:
            session = self._open.get(_digest(token))
            if session is not None and session.expires <= self.clock():
                del self._open[_digest(token)]
                return None
            return session

    def close(self, token: str) -> None:
        with self._lock:
            self._open.pop(_digest(token), None)
