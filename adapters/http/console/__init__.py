"""The risk console: static pages (open, no data) and the sign-in that turns an API key into a session.

Pages and assets are files of this package (`static/`), served as they are,
so the console works with no network and every page is the same for
everyone: every figure is fetched by the page from the API, under the
person's role, with the session cookie (adapters.http.auth). Nothing is
rendered server-side into a page, so there is one place where roles are
checked. The pages stay out of the OpenAPI document, like the probes.

It replaces the old `/dashboard` (now a redirect to the portfolio view).
Routes: `GET /console` (the shell; the pages are its `#/...` views),
`/console/assets/...` (scripts, styles), and `/console/session`: POST a
key (JSON `{"key": ...}`) to sign in, GET to learn who is signed in and
the CSRF token (after a reload), DELETE to sign out (with the token).
The shell's Content-Security-Policy lets the page load and fetch only from
this server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from adapters.access.keys import Keys, NotAuthenticated, Principal, digest
from adapters.access.sessions import Session, Sessions
from adapters.http.auth import CSRF_HEADER, REALM, SESSION_COOKIE
from adapters.http.pool import PoolExhausted
from adapters.http.problems import Problem
from adapters.store.keys import KeyStore

STATIC = Path(__file__).parent / "static"
ASSETS = "/console/assets"
PATHS = frozenset({"/", "/dashboard", "/console", "/console/session", ASSETS})
"""The console's routes: all open (the route enumeration test holds them to api.OPEN_PATHS)."""
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    return StaticFiles(directory=STATIC)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/dashboard")
def dashboard() -> RedirectResponse:
    """The old chart page's address: the console's portfolio replaced it."""
    return RedirectResponse("/console#/portfolio", status_code=308)


@router.get("/console")
def shell() -> FileResponse:
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _who(principal: Principal, session: Session, sessions: Sessions) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role.value,
        "csrf_token": session.csrf,
        "expires_in_s": max(0, int(session.expires - sessions.clock())),
    }


def _holder(request: Request, key_digest: str) -> Principal:
    try:
        with request.app.state.pool.connection() as db:
            return Keys(KeyStore(db)).authenticate_digest(key_digest)
    except PoolExhausted as error:
        raise Problem(503, str(error), "busy") from None
    except NotAuthenticated as refused:
        raise Problem(401, str(refused), "unauthorized", {"WWW-Authenticate": REALM}) from None


@router.post("/console/session")
def sign_in(request: Request, response: Response, key: Annotated[str, Body(embed=True, max_length=200)]) -> Any:
    """Exchange an API key for a session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS)."""
    key_digest = digest(key.strip())
    principal = _holder(request, key_digest)
    sessions: Sessions = request.app.state.sessions
    token, session = sessions.open(key_digest)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(sessions.lifetime_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return _who(principal, session, sessions)


def _current(request: Request) -> tuple[str, Session]:
    token = request.cookies.get(SESSION_COOKIE, "")
    session = request.app.state.sessions.get(token)
    if session is None:
        raise Problem(
            401, "not signed in, or the session expired: sign in again", "unauthorized", {"WWW-Authenticate": REALM}
        )
    return token, session


@router.get("/console/session")
def who(request: Request, response: Response) -> Any:
    """Who is signed in, and the CSRF token the page sends with actions (a reload forgets it)."""
    _, session = _current(request)
    response.headers["Cache-Control"] = "no-store"
    return _who(_holder(request, session.key_digest), session, request.app.state.sessions)


@router.delete("/console/session", status_code=204)
def sign_out(request: Request) -> Response:
    """Close the session (an action: it needs the CSRF token) and clear the cookie."""
    token, session = _current(request)
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Problem(403, f"signing out needs the session's CSRF token in {CSRF_HEADER}", "forbidden")
    request.app.state.sessions.close(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
