"""Errors as RFC 9457 problem details (`application/problem+json`), for every route of the API.

`responses()` writes them into each route's OpenAPI entry (the status codes
a route may answer, each with the problem schema), so the document tells
the truth about errors too; a 405 names the methods a path takes (`Allow`).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"
failures = logging.getLogger("fengkong.http")
Json = dict[str, Any]

_SCHEMA: Json = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_WHEN = {
    400: "a request body that cannot be read as JSON",
    401: "no API key, an unknown or a revoked key",
    403: "the key's role is too low for this route",
    404: "no such account or date in the read models, no such policy in the store",
    409: "the action cannot be done as asked: the lock is not held, no review is open, the date is not earlier, "
    "a policy step the governance rules refuse",
    422: "a parameter out of its bounds or not of its type",
    500: "an internal error (its class only, never data)",
    503: "the read models are not built yet, or every database connection is busy",
}


def responses(*codes: int, links: Json | None = None) -> dict[int | str, Json]:
    """The problem answers of a keyed route for its OpenAPI entry: those every such route may give, and `codes`.

    `links` (OpenAPI links of the 200 answer) tell a client, and the fuzzer, where ids come from.
    """
    answers: dict[int | str, Json] = {
        code: {"description": _WHEN[code], "content": {PROBLEM: {"schema": _SCHEMA}}}
        for code in sorted({401, 403, 422, 500, 503, *codes})
    }
    if links:
        answers[200] = {"links": links}
    return answers


def account_links(pointer: str = "/items/0/account_id") -> Json:
    """Links from an answer holding an account id (at the JSON pointer) to the routes of that account."""
    return {
        name: {"operationId": name, "parameters": {"account_id": f"$response.body#{pointer}"}}
        for name in ("account", "history", "decisions", "story")
    }


class Problem(Exception):
    """An error answered as problem details."""

    def __init__(
        self, status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers


def problem(
    request: Request,
    status: int,
    detail: Any,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {
        "type": f"/problems/{kind or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Every error of the app, ours or the framework's, answered as problem details."""

    @app.exception_handler(Problem)
    def _on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem(request, error.status, error.detail, error.kind, error.headers)

    @app.exception_handler(StarletteHTTPException)
    def _on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = getattr(error, "headers", None)
        if error.status_code == 405:  # Starlette names the first route's methods only; a path may have several
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(app, request.url.path))}
        return problem(request, error.status_code, error.detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return problem(request, 422, detail, "invalid-request", errors=errors)

    @app.exception_handler(Exception)
    def _on_error(request: Request, error: Exception) -> JSONResponse:
        failures.error("%s %s: internal error (%s)", request.method, request.url.path, type(error).__name__)
        return problem(request, 500, f"internal error ({type(error).__name__})", "internal-error")


def _allowed(app: FastAPI, path: str) -> list[str]:
    """Every method some route of the app answers on `path`."""
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    return sorted(methods)
