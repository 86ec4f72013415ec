"""Bearer API keys on the HTTP API: one role dependency per router, the role written into the OpenAPI document.

A router is built with `dependencies=[require(Role.ANALYST)]` (or another
role); a route that needs more adds its own `require`. The role names go
into each operation's security requirement (OpenAPI 3.1 allows role names
for non-OAuth schemes), so the document says which role every route needs
and the route enumeration test reads it from there. Routes that are open
(probes, the documentation, later the console's pages) are on routers
without a role and stay out of the document.

Answers: no key, an unknown or a revoked key is 401 with
`WWW-Authenticate: Bearer`; a key whose role is too low is 403.

The console's pages call the same routes with a session cookie instead of a
bearer key (adapters.access.sessions, adapters.http.console): a request
without an `Authorization` header is authenticated by its session, the key
behind it looked up again each time, and any request that changes
something (not GET, HEAD or OPTIONS) must carry the session's CSRF token
in `X-CSRF-Token` (403 otherwise). A bearer key always wins over a cookie.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from adapters.access.keys import Keys, NotAllowed, NotAuthenticated, Principal, Role
from adapters.access.sessions import Sessions
from adapters.http.pool import PoolExhausted
from adapters.http.problems import Problem
from adapters.store.keys import KeyStore

SCHEME = "apiKey"
REALM = 'Bearer realm="fengkong"'
SESSION_COOKIE = "fengkong_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME,
    description="An API key from `fengkong keys create --role ROLE --name WHO`, sent as `Authorization: Bearer <key>`.",
)


def _principal(
    request: Request,
    scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    """The key's holder, if the key is valid and its role includes every role the route asks for."""
    needed = max((Role(scope) for scope in scopes.scopes), key=lambda role: role.level, default=Role.ADMIN)
    if credentials is None and SESSION_COOKIE in request.cookies:
        return _session_principal(request, needed)
    try:
        with request.app.state.pool.connection() as db:
            return Keys(KeyStore(db)).authorize(credentials.credentials if credentials else None, needed)
    except PoolExhausted as error:
        raise Problem(503, str(error), "busy") from None
    except NotAuthenticated as refused:
        if credentials is None:
            detail, challenge = f"{refused}: send `Authorization: Bearer <key>`", REALM
        else:
            detail, challenge = str(refused), f'{REALM}, error="invalid_token"'
        raise Problem(401, detail, "unauthorized", {"WWW-Authenticate": challenge}) from None
    except NotAllowed as refused:
        raise Problem(403, str(refused), "forbidden") from None


def _session_principal(request: Request, needed: Role) -> Principal:
    """The holder of the console session the request's cookie names; an action needs its CSRF token too."""
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise Problem(
            401, "the console session expired or was closed: sign in again", "unauthorized", {"WWW-Authenticate": REALM}
        )
    if request.method not in SAFE_METHODS and not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Problem(403, f"an action from a console session needs its CSRF token in {CSRF_HEADER}", "forbidden")
    try:
        with request.app.state.pool.connection() as db:
            return Keys.allow(Keys(KeyStore(db)).authenticate_digest(session.key_digest), needed)
    except PoolExhausted as error:
        raise Problem(503, str(error), "busy") from None
    except NotAuthenticated:
        raise Problem(
            401,
            "the key this session was opened with is revoked: sign in again",
            "unauthorized",
            {"WWW-Authenticate": REALM},
        ) from None
    except NotAllowed as refused:
        raise Problem(403, str(refused), "forbidden") from None


def require(role: Role) -> Any:
    """A dependency (for a router's `dependencies` or a parameter) admitting keys of `role` and above."""
    return Security(_principal, scopes=[role.value])


def role_of(operation: dict[str, Any]) -> Role | None:
    """The role an operation of the OpenAPI document requires (None: it declares none)."""
    roles = [Role(name) for requirement in operation.get("security", []) for name in requirement.get(SCHEME, [])]
    return max(roles, key=lambda role: role.level) if roles else None
