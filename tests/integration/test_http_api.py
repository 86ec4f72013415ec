"""The read-model HTTP API over real HTTP (uvicorn on a loopback port), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from adapters.synthetic.portfolio import Portfolio
from tests.integration.test_read_models import run_demo
from tests.support.wiring import api_at, key_at, open_engine

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    if request.param == "sqlite":
        store = str(tmp_path_factory.mktemp("api") / "store.db")
    else:
        server = request.getfixturevalue("postgres_server")
        store = server.create_database(f"api_{uuid.uuid4().hex[:12]}")
    run_demo(store, accounts=150, days=100)
    key = key_at(store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api_at(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=bearer(key)) as client:
        yield client
    server.should_exit = True
    thread.join(30)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def all_pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get(path, params={**params, "limit": 40, "offset": offset}).json()
        items += page["items"]
        offset += 40
        if offset >= page["total"]:
            return items


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"] and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


def test_openapi_document_lists_every_endpoint(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/accounts",
        "/accounts/{account_id}",
        "/accounts/{account_id}/history",
        "/accounts/{account_id}/decisions",
        "/collection-queue",
        "/watchlist",
        "/notice-rates",
        "/delinquency/daily",
        "/delinquency/roll-rates",
        "/projections",
    ):
        assert path in document["paths"], path


def test_account_filters_and_paging(api: httpx.Client) -> None:
    everyone = all_pages(api, "/accounts")
    assert len(everyone) == len({a["account_id"] for a in everyone}) == 150
    locked = all_pages(api, "/accounts", locked="true")
    assert locked and all(a["card_locked"] for a in locked)
    assert {a["account_id"] for a in locked} == {a["account_id"] for a in everyone if a["card_locked"]}
    unlocked = all_pages(api, "/accounts", locked="false")
    assert len(locked) + len(unlocked) == len(everyone)
    for status in ("locked", "current"):
        chosen = all_pages(api, "/accounts", status=status)
        assert {a["account_id"] for a in chosen} == {a["account_id"] for a in everyone if a["status"] == status}
    for bucket in {a["delinquency_bucket"] for a in everyone}:
        chosen = all_pages(api, "/accounts", bucket=bucket)
        assert {a["account_id"] for a in chosen} == {
            a["account_id"] for a in everyone if a["delinquency_bucket"] == bucket
        }
    first, second = (api.get("/accounts", params={"limit": 5, "offset": o}).json() for o in (0, 5))
    assert first["total"] == 150 and len(first["items"]) == 5
    assert not {a["account_id"] for a in first["items"]} & {a["account_id"] for a in second["items"]}
    assert Decimal(everyone[0]["credit_limit"]) > 0  # money travels as decimal strings


def test_one_account_with_history_and_decisions(api: httpx.Client) -> None:
    locked = api.get("/accounts", params={"locked": "true", "limit": 1}).json()["items"][0]
    body = api.get(f"/accounts/{locked['account_id']}").json()
    assert body["account"] == locked
    history = body["history"]["items"]
    assert history[0]["entry"] == "AccountOpened"
    times = [entry["occurred_at"] for entry in history]
    assert times == sorted(times)
    assert any(entry["entry"] == "LockCard" for entry in history)
    decisions = body["decisions"]["items"]
    assert decisions and all(d["account_id"] == locked["account_id"] for d in decisions)
    lock = next(d for d in decisions if d["command_type"] == "LockCard")
    assert lock["command"]["command_id"] == lock["command_id"]
    assert lock["rule"].startswith("lock.")
    paged = api.get(f"/accounts/{locked['account_id']}/history", params={"limit": 3, "offset": 1}).json()
    assert paged["items"] == history[1:4]


def test_collection_queue_is_ordered_by_priority(api: httpx.Client) -> None:
    queue = all_pages(api, "/collection-queue")
    assert queue, "the demo leaves overdue accounts"
    assert [row["rank"] for row in queue] == list(range(1, len(queue) + 1))
    keys = [(-row["days_past_due"], -Decimal(row["overdue_outstanding"]), -row["broken_plans"]) for row in queue]
    assert keys == sorted(keys)
    assert all(Decimal(row["overdue_outstanding"]) > 0 for row in queue)
    deep = api.get("/collection-queue", params={"min_days_past_due": 30}).json()["items"]
    assert all(row["days_past_due"] >= 30 for row in deep)


def test_the_watch_list_and_notice_rates(api: httpx.Client) -> None:
    """The demo runs default-v2: accounts are watched before their due date, notices get outcomes."""
    ended = all_pages(api, "/watchlist", ended=True)
    assert ended, "the demo watches some accounts"
    assert all(row["reason"] and row["since"] for row in ended)
    assert {row["status"] for row in ended} <= {"watching", "overdue", "repaid"}
    watching = all_pages(api, "/watchlist")
    assert watching == [row for row in ended if row["status"] == "watching"]
    rates = {(row["template"], row["channel"]): row for row in api.get("/notice-rates").json()}
    assert 0 < rates["overdue_d1", "sms"]["contact_rate"] <= 1


def test_delinquency_and_roll_rates(api: httpx.Client) -> None:
    daily = api.get("/delinquency/daily").json()
    days = sorted({row["business_date"] for row in daily})
    assert len(days) > 30
    window = api.get("/delinquency/daily", params={"from": days[5], "to": days[9]}).json()
    assert sorted({row["business_date"] for row in window}) == days[5:10]
    assert len(window) == 5 * 6
    latest = api.get("/delinquency/roll-rates").json()
    assert latest["business_date"] == days[-1]
    earlier = api.get("/delinquency/roll-rates", params={"date": days[10]}).json()
    assert earlier["business_date"] == days[10]
    for cell in earlier["matrix"]:
        if cell["from_bucket"] != "new":
            assert cell["previous_date"] == days[9]
            assert cell["rate"] == pytest.approx(cell["accounts"] / cell["from_accounts"])


def test_errors_are_problem_details(api: httpx.Client) -> None:
    assert "unknown" in assert_problem(api.get("/accounts/NOPE"), 404)["type"]
    body = assert_problem(api.get("/accounts", params={"limit": 0}), 422)
    assert body["errors"][0]["location"] == "query.limit"
    assert_problem(api.get("/accounts", params={"bucket": "7-9"}), 422)
    assert_problem(api.get("/accounts", params={"locked": "maybe"}), 422)
    assert_problem(api.get("/delinquency/roll-rates", params={"date": "1999-01-01"}), 404)
    assert_problem(api.get("/delinquency/daily", params={"from": "yesterday"}), 422)
    assert_problem(api.get("/no/such/path"), 404)


def test_projection_status_reports_no_lag_after_the_demo(api: httpx.Client) -> None:
    rows = api.get("/projections").json()
    assert {row["name"] for row in rows} >= {"account_status", "credit_history", "decisions", "collection"}
    assert all(row["lag_events"] == 0 and row["position"] == row["head"] for row in rows)


def test_serve_loads_read_models_that_never_ran_then_follows_the_store_live(tmp_path: Path) -> None:
    """`fengkong serve` on a store of more than a page whose read models never ran: its follower loads them in
    memory first (one line says so), then applies what the engine stores next."""
    store = str(tmp_path / "store.db")
    days = list(Portfolio(40, 30, seed=9, noise=True).days_of_events())
    engine = open_engine(store)
    for day in days[:10]:
        engine.process([orjson.dumps(event) for event in day])
    page = 20
    assert engine.head() > page
    key = key_at(store)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from adapters.cli import main; main()",
            "serve",
            *("--port", str(port)),
            *("--poll", "0.05", "--store", store),
        ],
        cwd=REPO,
        env={**os.environ, "FENGKONG_PROJECTION_PAGE": str(page)},
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=bearer(key)) as client:
            status = _wait_for_lag_zero(client)
            before = status[0]["head"]
            for day in days[10:]:
                engine.process([orjson.dumps(event) for event in day])
            head = engine.head()
            assert head > before
            status = _wait_for_lag_zero(client, head)
            closed = client.get("/delinquency/roll-rates").json()["business_date"]
            last_close = max(e["data"]["business_date"] for day in days for e in day if e["type"] == "DayClosed")
            assert closed == last_close
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
        engine.close()
    loaded = [line for line in stderr.decode().splitlines() if "read models caught up" in line]
    assert len(loaded) == 1
    assert f"read models caught up: {before} events" in loaded[0]
    assert "loaded in memory" in loaded[0] and "credit_history" in loaded[0]


def _wait_for_lag_zero(client: httpx.Client, head: int = 0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            rows: list[dict[str, Any]] = client.get("/projections").json()
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if isinstance(rows, list) and all(r["lag_events"] == 0 and r["position"] >= head for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError("the served read models did not catch up")
