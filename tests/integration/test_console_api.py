"""The console's sign-in and the portfolio routes it adds, through the API (no browser).

Sessions: an API key becomes an HttpOnly, SameSite=Strict cookie; the
cookie reads the API under the key's role; an action without the
session's CSRF token is refused; sessions expire, end at sign-out and end
when their key is revoked; bearer keys keep working. Pages and assets are
open, carry no data and stay out of the OpenAPI document. The interval
roll rates agree with the daily read models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.access.keys import Role
from adapters.cli import cli
from adapters.http.auth import CSRF_HEADER, SESSION_COOKIE
from adapters.store import portfolio, queries
from tests.integration.test_read_models import run_demo
from tests.support.wiring import api_at, key_at, revoke_at, tables_at


@dataclass
class Served:
    app: FastAPI
    client: TestClient
    store: str
    analyst: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if request.param == "sqlite":
        store = str(tmp_path_factory.mktemp("console") / "store.db")
    else:
        store = request.getfixturevalue("postgres_server").create_database(f"console_{uuid.uuid4().hex[:12]}")
    run_demo(store, accounts=40, days=75)
    analyst = key_at(store, Role.ANALYST)
    app = api_at(store)
    with TestClient(app, base_url="http://testserver") as client:
        yield Served(app, client, store, analyst)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _sign_in(served: Served, key: str) -> tuple[TestClient, dict[str, object]]:
    """A fresh client (its own cookie jar) signed in with `key`."""
    client = TestClient(served.app, base_url="http://testserver")
    answer = client.post("/console/session", json={"key": key})
    assert answer.status_code == 200, answer.text
    return client, answer.json()


def test_sign_in_gives_an_httponly_strict_cookie_and_a_csrf_token_never_the_key(served: Served) -> None:
    client = TestClient(served.app, base_url="http://testserver")
    answer = client.post("/console/session", json={"key": served.analyst})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Max-Age=28800" in cookie  # FENGKONG_SESSION_MINUTES, 480 by default
    body = answer.json()
    assert body["role"] == "analyst" and len(str(body["csrf_token"])) >= 32
    assert served.analyst not in answer.text and served.analyst not in cookie
    assert client.post("/console/session", json={"key": "fk_" + "x" * 43}).status_code == 401
    assert client.post("/console/session", json={}).status_code == 422


def test_the_cookie_reads_the_api_under_the_keys_role_and_bearer_keys_still_work(served: Served) -> None:
    client, who = _sign_in(served, served.analyst)
    assert client.get("/accounts", params={"limit": 1}).status_code == 200
    assert client.get("/console/session").json()["csrf_token"] == who["csrf_token"]
    assert client.get("/me").json()["role"] == "analyst"
    stranger = TestClient(served.app, base_url="http://testserver")
    assert stranger.get("/accounts").status_code == 401
    assert stranger.get("/accounts", headers=_bearer(served.analyst)).status_code == 200
    metrics_only, _ = _sign_in(served, key_at(served.store, Role.METRICS))
    refused = metrics_only.get("/accounts")
    assert refused.status_code == 403 and "analyst" in refused.json()["detail"]


def test_an_action_without_the_csrf_token_is_refused(served: Served) -> None:
    client, who = _sign_in(served, served.analyst)
    for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: "not-the-token"}):
        refused = client.delete("/console/session", headers=headers)
        assert refused.status_code == 403, refused.text
        assert CSRF_HEADER in refused.json()["detail"]
    assert client.get("/accounts", params={"limit": 1}).status_code == 200  # still signed in
    assert client.delete("/console/session", headers={CSRF_HEADER: str(who["csrf_token"])}).status_code == 204
    assert client.get("/accounts", params={"limit": 1}).status_code == 401
    assert client.get("/console/session").status_code == 401


def test_a_session_ends_when_it_expires_or_its_key_is_revoked(served: Served) -> None:
    client, _ = _sign_in(served, served.analyst)
    sessions = served.app.state.sessions
    real = sessions.clock
    try:
        sessions.clock = lambda: real() + sessions.lifetime_s + 1
        assert client.get("/accounts").status_code == 401
    finally:
        sessions.clock = real
    assert client.get("/accounts").status_code == 401  # an expired session is gone, not asleep
    doomed = key_at(served.store, Role.ANALYST, f"doomed-{uuid.uuid4().hex[:6]}")
    client, _ = _sign_in(served, doomed)
    assert client.get("/accounts").status_code == 200
    revoke_at(served.store, _name_of(served, doomed))
    assert client.get("/accounts").status_code == 401


def _name_of(served: Served, key: str) -> str:
    return str(served.client.get("/me", headers=_bearer(key)).json()["name"])


def test_pages_and_assets_are_open_carry_no_data_and_stay_out_of_the_document(served: Served) -> None:
    account = served.client.get("/accounts", params={"limit": 1}, headers=_bearer(served.analyst)).json()
    some_id = account["items"][0]["account_id"]
    page = served.client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "script-src 'self'" in policy
    for asset in ("main.js", "charts.js", "portfolio.js", "account.js", "queue.js", "i18n.js", "console.css"):
        answer = served.client.get(f"/console/assets/{asset}")
        assert answer.status_code == 200, asset
        assert some_id not in answer.text
        assert "http://" not in answer.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in answer.text
    assert some_id not in page.text
    paths = served.app.openapi()["paths"]
    assert not [path for path in paths if path.startswith("/console") or path == "/"]
    assert served.client.get("/", follow_redirects=False).headers["location"] == "/console"
    old = served.client.get("/dashboard", follow_redirects=False)  # the chart page the console replaced
    assert old.status_code == 308 and old.headers["location"] == "/console#/portfolio"


def test_interval_roll_rates_agree_with_the_daily_read_models(served: Served) -> None:
    headers = _bearer(served.analyst)
    daily = served.client.get("/delinquency/daily", headers=headers).json()
    dates = sorted({row["business_date"] for row in daily})
    accounts = {(row["business_date"], row["bucket"]): row["accounts"] for row in daily}
    answer = served.client.get("/delinquency/roll-rates/interval", headers=headers).json()
    assert answer["to_date"] == dates[-1]
    assert answer["from_date"] == dates[-31]  # one close a day in the demo: 30 days before the latest
    into = Counter[str]()
    for cell in answer["matrix"]:
        into[cell["to_bucket"]] += cell["accounts"]
        if cell["from_bucket"] != "new":
            assert cell["from_accounts"] == accounts[(answer["from_date"], cell["from_bucket"])]
            assert cell["rate"] == pytest.approx(cell["accounts"] / cell["from_accounts"])
    assert dict(into) == {bucket: n for (day, bucket), n in accounts.items() if day == answer["to_date"] and n}
    moved = sum(c["accounts"] for c in answer["matrix"] if c["from_bucket"] != c["to_bucket"])
    assert moved > 0, "the demo moves accounts between buckets over 30 days"
    cure = answer["cure"]
    delinquent = sum(n for (day, bucket), n in accounts.items() if day == answer["from_date"] and bucket != "current")
    assert cure["delinquent"] == delinquent
    cured = sum(
        c["accounts"]
        for c in answer["matrix"]
        if c["from_bucket"] not in ("new", "current") and c["to_bucket"] == "current"
    )
    assert cure["cured"] == cured
    one_day = served.client.get(
        "/delinquency/roll-rates/interval", params={"from": dates[-2], "to": dates[-1]}, headers=headers
    ).json()
    daily_matrix = served.client.get("/delinquency/roll-rates", headers=headers).json()["matrix"]
    assert sorted((c["from_bucket"], c["to_bucket"], c["accounts"]) for c in one_day["matrix"]) == sorted(
        (c["from_bucket"], c["to_bucket"], c["accounts"]) for c in daily_matrix
    )
    early = served.client.get("/delinquency/roll-rates/interval", params={"to": "2000-01-01"}, headers=headers)
    assert early.status_code == 404


def test_vintages_and_locks_per_day_count_what_the_timelines_hold(served: Served) -> None:
    headers = _bearer(served.analyst)
    vintages = served.client.get("/delinquency/vintages", headers=headers).json()
    assert sum(c["accounts"] for c in vintages["cohorts"]) == 40
    for cohort in vintages["cohorts"]:
        assert [p["months_on_book"] for p in cohort["points"]] == sorted(
            {p["months_on_book"] for p in cohort["points"]}
        )
        assert all(0 <= p["share"] <= 1 and 0 < p["accounts"] <= cohort["accounts"] for p in cohort["points"])
    daily = served.client.get("/delinquency/daily", headers=headers).json()
    by_date: dict[str, Counter[str]] = {}
    for row in daily:
        by_date.setdefault(row["business_date"], Counter())[row["bucket"]] += row["accounts"]
    if len(vintages["cohorts"]) == 1:  # the demo opens its accounts within one month: the cohort is the portfolio
        for point in vintages["cohorts"][0]["points"]:
            counted = by_date[point["business_date"]]
            past_30 = sum(n for bucket, n in counted.items() if bucket not in ("current", "1-30"))
            assert point["accounts"] == sum(counted.values())
            assert point["share"] == pytest.approx(past_30 / sum(counted.values()))
    locks = served.client.get("/portfolio/locks-daily", headers=headers).json()
    assert locks["timezone"] == "Asia/Shanghai"
    busy = [d["date"] for d in locks["days"] if d["locks"] or d["unlocks"]]
    ranged = served.client.get(
        "/portfolio/locks-daily", params={"from": busy[0], "to": busy[-1]}, headers=headers
    ).json()  # a range is cut on the portfolio's days, not on UTC's
    assert ranged["days"] == [d for d in locks["days"] if busy[0] <= d["date"] <= busy[-1]]
    queue_locked = 0
    for offset in range(0, 40, 20):
        page = served.client.get("/accounts", params={"limit": 20, "offset": offset}, headers=headers).json()
        queue_locked += sum(1 for row in page["items"] if row["card_locked"])
    assert sum(d["locks"] for d in locks["days"]) - sum(d["unlocks"] for d in locks["days"]) == queue_locked


def test_bucket_history_gives_every_close_the_buckets_delinquency_daily_counted(served: Served) -> None:
    db = tables_at(served.store)
    try:
        dates = portfolio.closed_dates(db)
        at = portfolio.buckets_at(db, dates)
        daily = queries.delinquency_daily(db)
    finally:
        db.close()
    assert len(dates) == 75
    for row in daily:
        assert Counter(at[row["business_date"]].values())[row["bucket"]] == row["accounts"], row


def test_the_story_route_tells_what_audit_explain_tells_without_personal_data(served: Served) -> None:
    headers = _bearer(served.analyst)
    some = served.client.get("/accounts", params={"status": "locked", "limit": 1}, headers=headers).json()
    account_id = some["items"][0]["account_id"]
    told = served.client.get(f"/accounts/{account_id}/story", headers=headers)
    assert told.status_code == 200
    explained = CliRunner().invoke(cli, ["audit", "explain", account_id, "--store", served.store, "--json"])
    assert explained.exit_code == 0, explained.output
    cli_facts = orjson.loads(explained.stdout)["facts"]
    facts = told.json()["facts"]
    assert [(f["event_id"], [d["rule"] for d in f["decisions"]]) for f in facts] == [
        (f["event_id"], [d["rule"] for d in f["decisions"]]) for f in cli_facts
    ]
    assert [[d["thresholds"] for d in f["decisions"]] for f in facts] == [
        [d["thresholds"] for d in f["decisions"]] for f in cli_facts
    ]
    assert "\\u001f" not in told.text and "pd1." not in told.text  # nothing sealed, nothing masked into noise
    assert facts[0]["data"]["customer_id"] == "(sealed)"
    assert served.client.get("/accounts/NO-SUCH/story", headers=headers).status_code == 404
    metrics_only = key_at(served.store, Role.METRICS)
    assert served.client.get(f"/accounts/{account_id}/story", headers=_bearer(metrics_only)).status_code == 403
