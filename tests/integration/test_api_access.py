"""Every route of the API's OpenAPI document needs a key of its role; only the listed open routes answer without.

The routes are enumerated from `app.openapi()` (never hand-listed), and each
operation's role from its security requirement, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from adapters.access.keys import Role
from adapters.http.api import OPEN_PATHS
from adapters.http.auth import role_of
from tests.integration.test_read_models import run_demo
from tests.support.wiring import api_at, key_at, revoke_at

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Served:
    app: FastAPI
    client: TestClient
    keys: dict[Role, str]
    revoked: str
    account_id: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if request.param == "sqlite":
        store = str(tmp_path_factory.mktemp("access") / "store.db")
    else:
        store = request.getfixturevalue("postgres_server").create_database(f"access_{uuid.uuid4().hex[:12]}")
    run_demo(store, accounts=30, days=40)
    keys = {role: key_at(store, role) for role in Role}
    revoked = key_at(store, Role.ADMIN, "to-revoke")
    revoke_at(store, "to-revoke")
    app = api_at(store)
    with TestClient(app, raise_server_exceptions=True) as client:
        account_id = client.get("/accounts", params={"limit": 1}, headers=_bearer(keys[Role.ANALYST]))
        yield Served(app, client, keys, revoked, account_id.json()["items"][0]["account_id"])


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _paths(routes: Any) -> Iterator[str]:
    """Every route's path, into included routers (FastAPI 0.16x keeps them as branches; no prefixes used here)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _paths(inner.routes)
        elif isinstance(route, (Route, Mount)):
            yield route.path
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")


def _call(served: Served, path: str, method: str, headers: dict[str, str] | None = None) -> Any:
    url = re.sub(r"\{account_id\}", served.account_id, path)
    url = re.sub(r"\{hold_id\}", "00000000-0000-0000-0000-000000000000", url)  # no such hold: 409, never a 5xx
    url = re.sub(r"\{(version|a|b)\}", "default-v1", url)
    assert "{" not in url, f"a path parameter the test does not know how to fill: {path}"
    return served.client.request(method.upper(), url, headers=headers or {})


def _assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_the_document_lists_the_api_and_every_operation_names_one_role(served: Served) -> None:
    found = operations(served.app)
    paths = {path for path, _, _ in found}
    assert {
        "/accounts",
        "/accounts/{account_id}",
        "/status",
        "/metrics",
        "/me",
        "/delinquency/roll-rates/interval",
    } <= paths
    assert {"/brake", "/held", "/held/{hold_id}/release", "/held/release-all", "/reviews", "/locks/undo"} <= paths
    assert not paths & OPEN_PATHS
    for path, method, operation in found:
        assert role_of(operation) is not None, f"{method.upper()} {path} declares no role"
    assert served.app.openapi()["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": served.app.openapi()["components"]["securitySchemes"]["apiKey"]["description"],
    }


def test_every_route_of_the_document_refuses_a_missing_wrong_or_revoked_key(served: Served) -> None:
    for path, method, _ in operations(served.app):
        _assert_unauthorized(_call(served, path, method))
        _assert_unauthorized(_call(served, path, method, _bearer("fk_" + "x" * 43)))
        _assert_unauthorized(_call(served, path, method, {"Authorization": "Basic dXNlcjpwYXNz"}))
        revoked = _call(served, path, method, _bearer(served.revoked))
        _assert_unauthorized(revoked)
        assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


def test_every_route_of_the_document_refuses_a_lower_role_and_admits_its_own_and_higher(served: Served) -> None:
    checked_lower = 0
    for path, method, operation in operations(served.app):
        needed = role_of(operation)
        assert needed is not None
        for role, key in served.keys.items():
            response = _call(served, path, method, _bearer(key))
            if role.includes(needed):
                assert response.status_code not in (401, 403), (path, role, response.text)
                assert response.status_code < 500, (path, role, response.text)
            else:
                checked_lower += 1
                assert response.status_code == 403, (path, role, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert needed.value in response.json()["detail"]
    assert checked_lower, "no route needs more than the lowest role: the 403 path went untested"


def test_routes_outside_the_document_are_exactly_the_open_ones_and_answer_without_a_key(served: Served) -> None:
    documented = {path for path, _, _ in operations(served.app)}
    every = set(_paths(served.app.routes))
    assert documented <= every
    hidden = every - documented
    assert hidden == OPEN_PATHS, "a route outside the OpenAPI document that is not meant to be open"
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"):
        response = served.client.get(path)
        assert response.status_code == 200, (path, response.text)
    assert served.client.get("/readyz").json()["status"] == "ready"


def test_the_documentation_pages_load_nothing_from_outside(served: Served) -> None:
    for page in ("/docs", "/redoc"):
        html = served.client.get(page).text
        sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert sources, page
        for source in sources:
            assert source.startswith("/"), f"{page} loads {source}"
            assert served.client.get(source).status_code == 200, source
        assert "fonts.googleapis" not in html and "cdn." not in html
        assert "validator.swagger.io" not in html


def test_me_names_the_key_holder_without_the_key(served: Served) -> None:
    body = served.client.get("/me", headers=_bearer(served.keys[Role.OPERATOR])).json()
    assert body["role"] == "operator" and body["name"].startswith("tests-")
    assert served.keys[Role.OPERATOR] not in str(body)
