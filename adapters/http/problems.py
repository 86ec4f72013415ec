"""Errors as RFC 9457 problem details (`application/problem+json`), for every route of the API."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


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
        return problem(request, error.status_code, error.detail, headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return problem(request, 422, detail, "invalid-request", errors=errors)

    @app.exception_handler(Exception)
    def _on_error(request: Request, error: Exception) -> JSONResponse:
        return problem(request, 500, f"internal error ({type(error).__name__})", "internal-error")
