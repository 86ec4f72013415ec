"""The API keeps its own promises: schemathesis (a fuzzer nobody here wrote) against a real `fengkong serve`.

A demo store is served by a `fengkong serve` process; `schemathesis run
--checks all` reads its OpenAPI document and sends what it derives from it
(valid and invalid parameters, undeclared methods, links between routes):
every answer must be one the document declares (status, content type,
schema), valid requests accepted, invalid ones refused, no 5xx. Pinned
version (pyproject.toml), fixed seed: the same run every time.

Each key fuzzes the routes its role may call: an analyst's key every reading
route, then an operator's key the operators' actions (on the same throwaway
store: they release, drop and undo there). Never an admin key (it would
revoke keys): the admin's one action route, correcting the clock, is held to
its 401/403 by the route enumeration test, and its body model is the same kind.

CI: 60 examples per operation per phase on SQLite and PostgreSQL (about 15 s
each here), 30 for the operators' routes; FENGKONG_LONG=1: 1,000, and the
default budget of the stateful phase.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.access.keys import Role
from adapters.http.auth import role_of
from tests.integration.test_http_api import free_port
from tests.integration.test_whatif import policy_file
from tests.support.bursts import portfolio
from tests.support.wiring import key_at

LONG = os.environ.get("FENGKONG_LONG") == "1"
BIN = Path(sys.executable).parent
SEED = 20261201
EXAMPLES = 1000 if LONG else 60


def auth(store: str, role: Role = Role.ANALYST) -> list[str]:
    """The fuzzer's credentials: an analyst's or an operator's key (never an admin's: it would revoke keys)."""
    return ["-H", f"Authorization: Bearer {key_at(store, role)}"]


def operation_ids(url: str, role: Role) -> list[str]:
    """The operations of the served document that need exactly `role`."""
    document = httpx.get(f"{url}/openapi.json").json()
    return [op["operationId"] for item in document["paths"].values() for op in item.values() if role_of(op) is role]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The base URL of a `fengkong serve` process on a demo store, the store, and the file its stderr goes to."""
    workdir = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        store = str(workdir / "demo.db")
    else:
        store = request.getfixturevalue("postgres_server").create_database(f"fuzz_{uuid.uuid4().hex[:12]}")
    demo = [str(BIN / "fengkong"), "demo", "--accounts", "150", "--days", "120", "--store", store, "--json"]
    subprocess.run(demo, cwd=workdir, check=True, capture_output=True, timeout=300)
    # a shadow run, so that its report has a version to be asked for (linked from /shadow/runs)
    (workdir / "more.jsonl").write_bytes(b"\n".join(portfolio(3)))
    shadow = [str(BIN / "fengkong"), "ingest", "more.jsonl", "--shadow", str(policy_file(workdir, "dpd7-v1", 7))]
    subprocess.run([*shadow, "--store", store], cwd=workdir, check=True, capture_output=True, timeout=300)
    port = free_port()
    log = (workdir / "serve.log").open("wb")  # a file, not a pipe: serve logs every request, a full pipe blocks it
    server = subprocess.Popen(
        [str(BIN / "fengkong"), "serve", "--store", store, "--port", str(port), "--no-follow"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (workdir / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "fengkong serve did not answer within 60 s"
            time.sleep(0.2)
        yield url, store, workdir / "serve.log"
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def fuzz(url: str, tmp_path: Path, examples: int, *options: str) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(examples),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        *options,
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800, check=False)
    tail = done.stdout[-6000:]
    assert done.returncode == 0, tail
    assert "No issues found" in done.stdout, tail
    return done.stdout


def test_schemathesis_finds_nothing(served: tuple[str, str, Path], tmp_path: Path) -> None:
    url, store, _ = served
    acting = {role: operation_ids(url, role) for role in (Role.OPERATOR, Role.ADMIN)}
    excluded = [option for ids in acting.values() for op in ids for option in ("--exclude-operation-id", op)]
    read = fuzz(url, tmp_path / "analyst", EXAMPLES, *auth(store), *excluded)
    operations = len([1 for methods in httpx.get(f"{url}/openapi.json").json()["paths"].values() for _ in methods])
    reading = operations - len(acting[Role.OPERATOR]) - len(acting[Role.ADMIN])
    assert f"{reading} selected / {operations} total" in read, read[-3000:]  # every reading route was fuzzed
    included = [option for op in acting[Role.OPERATOR] for option in ("--include-operation-id", op)]
    phases = ["--phases", "examples,coverage,fuzzing"]  # no links among the actions: no stateful phase
    act = fuzz(url, tmp_path / "operator", EXAMPLES // 2, *auth(store, Role.OPERATOR), *included, *phases)
    assert f"{len(acting[Role.OPERATOR])} selected / {operations} total" in act, act[-3000:]


def test_serve_says_where_it_listens_and_logs_requests_without_ids(served: tuple[str, str, Path]) -> None:
    url, store, log = served
    headers = {"Authorization": f"Bearer {key_at(store)}"}
    account = httpx.get(f"{url}/accounts?limit=1", headers=headers).json()["items"][0]["account_id"]
    assert httpx.get(f"{url}/accounts/{account}/history?limit=3", headers=headers).status_code == 200
    too_big = httpx.request("GET", f"{url}/accounts", headers=headers, content=b"x" * (64 * 1024 + 1))
    assert too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"
    lines = log.read_text().splitlines()
    assert lines[0].startswith("serving the read models of ") and url in lines[0]
    assert any("GET /accounts/{account_id}/history 200" in line for line in lines)
    assert not any(account in line or "limit=" in line or "127.0.0.1:" in line for line in lines[1:])
