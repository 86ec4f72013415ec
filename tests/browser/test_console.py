"""The risk console in Chromium: every page loads and shows the figures the API returns.

CI cost: one store (a demo of 60 accounts over 120 days, a proposed candidate
policy with its what-if, a shadowed burst that trips the brake), one `fengkong
serve`, one Chromium for the whole suite, a fresh context per test: about 32 s
in all on this machine, 14 s of it the set-up (`pytest tests/browser --durations=0`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapters.access.keys import Role
from tests.browser.conftest import CANDIDATE, Console, Watched, go, marks, ready, shot, sign_in


def yuan(value: str | Decimal) -> str:
    return f"¥{Decimal(value):,.2f}"


def test_portfolio_charts_show_the_figures_the_api_returns(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    daily: Any = console.get("/delinquency/daily")
    dates = sorted({row["business_date"] for row in daily})
    accounts = {(row["business_date"], row["bucket"]): row["accounts"] for row in daily}

    bars = marks(page, "#delinquency rect.bar", "series", "x", "value")
    assert len(bars) == len(dates) * 5  # the delinquent buckets, stacked on every close
    assert {(b["x"], b["series"]): int(b["value"]) for b in bars} == {
        (day, bucket): n for (day, bucket), n in accounts.items() if bucket != "current"
    }
    assert sum(int(b["value"]) for b in bars) > 0

    overdue = defaultdict(Decimal)
    for row in daily:
        overdue[row["business_date"]] += Decimal(row["overdue_balance"])
    points = marks(page, "#overdue circle.point", "x", "amount")
    assert {p["x"]: Decimal(p["amount"]) for p in points} == dict(overdue)

    rolls: Any = console.get("/delinquency/roll-rates/interval")
    assert rolls["from_date"] == dates[-31] and rolls["to_date"] == dates[-1]  # 30 days, month on month
    heading = page.inner_text("#roll-rates h2")
    assert rolls["from_date"] in heading and rolls["to_date"] in heading
    cells = [c for c in marks(page, "#roll-rates rect.cell", "from", "to", "accounts", "rate") if c["accounts"] != "0"]
    assert sorted((c["from"], c["to"], int(c["accounts"])) for c in cells) == sorted(
        (m["from_bucket"], m["to_bucket"], m["accounts"]) for m in rolls["matrix"]
    )
    labels = page.eval_on_selector_all("#roll-rates text.rate", "nodes => nodes.map(n => n.textContent)")
    assert sorted(labels) == sorted(
        f"{100 * m['rate']:.1f}%" if m["rate"] is not None else str(m["accounts"]) for m in rolls["matrix"]
    )
    assert page.inner_text("#cure-rate") == f"{100 * rolls['cure']['rate']:.1f}%"

    locks: Any = console.get("/portfolio/locks-daily", **{"from": dates[0], "to": dates[-1]})
    lock_bars = marks(page, "#locks rect.bar", "series", "x", "value")
    assert {(b["x"], b["series"]): int(b["value"]) for b in lock_bars} == {
        (d["date"], kind): d[kind] for d in locks["days"] for kind in ("locks", "unlocks", "held")
    }
    assert sum(d["held"] for d in locks["days"]) > 0, "the burst's locks held by the brake are drawn"

    vintages: Any = console.get("/delinquency/vintages")
    dots = marks(page, "#vintages circle.point", "series", "x", "value")
    assert sorted((d["series"], int(d["x"]), float(d["value"])) for d in dots) == sorted(
        (c["opened"], p["months_on_book"], p["share"]) for c in vintages["cohorts"] for p in c["points"]
    )

    for chart in ("#delinquency", "#overdue", "#locks", "#vintages"):  # axes with ticks and units
        assert len(page.query_selector_all(f"{chart} .y-axis text.tick")) >= 3, chart
        assert page.text_content(f"{chart} .y-unit") and page.text_content(f"{chart} .x-unit"), chart
    assert page.text_content("#overdue .y-unit") == "yuan (¥)"
    brake: Any = console.get("/brake")
    assert page.get_attribute("#brake-state", "data-state") == brake["state"]
    assert f"{brake['held']} held" in page.inner_text("#brake")

    busiest = max(bars, key=lambda b: int(b["value"]))
    page.hover(f'#delinquency rect.bar[data-x="{busiest["x"]}"][data-series="{busiest["series"]}"]')
    assert page.is_visible("#tooltip")
    tip = page.inner_text("#tooltip")
    assert busiest["x"] in tip and f"{busiest['series']}: {busiest['value']}" in tip
    page.mouse.move(0, 0)
    print(f"portfolio: {shot(page, 'portfolio')}")
    page.locator("#roll-rates").screenshot(path=str(shot(page, "portfolio").parent / "roll-rates-30-days.png"))


def test_the_date_range_control_narrows_every_chart(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    daily: Any = console.get("/delinquency/daily")
    dates = sorted({row["business_date"] for row in daily})
    start, end = dates[40], dates[99]
    page.fill("#range input[name=from]", start)
    page.fill("#range input[name=to]", end)
    page.fill("#range input[name=interval]", "14")
    page.evaluate("document.getElementById('view').dataset.ready = 'false'")
    page.click("#range button[type=submit]")
    ready(page)
    shown = {b["x"] for b in marks(page, "#delinquency rect.bar", "x")}
    assert shown == set(dates[40:100])
    rolls: Any = console.get("/delinquency/roll-rates/interval", **{"from": dates[85], "to": end})
    heading = page.inner_text("#roll-rates h2")
    assert rolls["from_date"] in heading and end in heading
    cells = [c for c in marks(page, "#roll-rates rect.cell", "from", "to", "accounts") if c["accounts"] != "0"]
    assert sorted((c["from"], c["to"], int(c["accounts"])) for c in cells) == sorted(
        (m["from_bucket"], m["to_bucket"], m["accounts"]) for m in rolls["matrix"]
    )


def test_the_language_is_kept_per_browser_and_amounts_are_in_yuan(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    assert page.inner_text("#nav a[href='#/portfolio']") == "Portfolio"
    page.select_option("#lang", "zh-CN")
    ready(page)
    assert page.inner_text("#nav a[href='#/portfolio']") == "资产组合"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.reload()
    ready(page)
    assert page.inner_text("#view h1") == "资产组合"
    assert page.text_content("#overdue .y-unit") == "元（¥）"
    queue: Any = console.get("/collection-queue", limit=1)
    first = queue["items"][0]
    go(page, f"#/account/{first['account_id']}")
    assert page.inner_text("#status-card [data-field=overdue_outstanding] .value") == yuan(first["overdue_outstanding"])
    assert "时间为" in page.inner_text("#zone")
    print(f"account (zh-CN): {shot(page, 'account-zh-CN')}")
    missing = page.evaluate("import('/console/assets/i18n.js').then(m => m.untranslated())")
    assert missing == {"en": [], "zh-CN": []}
    keys = page.evaluate("import('/console/assets/i18n.js').then(m => m.keys())")  # none may show untranslated
    for view in (
        "#/portfolio/",
        f"#/account/{first['account_id']}/",
        "#/queue/",
        "#/reviews",
        "#/reports",
        f"#/reports/shadow/{CANDIDATE}",
        f"#/reports/policy/{CANDIDATE}",
    ):
        go(page, view)
        text = page.inner_text("#view")
        assert not [key for key in keys if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w.])", text)], view
        assert not re.search(r"undefined|NaN|\[object", text), view
        if "policy" not in view and "account" not in view:  # settings and recorded facts may hold null
            assert not re.search(r"\bnull\b", text), view
    print(f"reports (zh-CN): {shot(page, 'report-policy-zh-CN')}")


def test_the_account_page_shows_the_status_card_and_the_whole_timeline(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    go(page, "#/account")
    reviewed: Any = console.get("/accounts", status="locked", limit=50)
    account_id = reviewed["items"][0]["account_id"]
    page.fill("#account-search input[name=account]", account_id)
    page.evaluate("document.getElementById('view').dataset.ready = 'false'")
    page.click("#account-search button[type=submit]")
    ready(page)
    answer: Any = console.get(f"/accounts/{account_id}", limit=1000)
    status = answer["account"]
    card = lambda field: page.inner_text(f"#status-card [data-field={field}] .value")  # noqa: E731
    assert card("credit_limit") == yuan(status["credit_limit"])
    assert card("outstanding") == yuan(status["outstanding"])
    assert card("card_locked") == "locked"
    assert card("days_past_due") == f"{status['days_past_due']} ({status['delinquency_bucket']})"
    assert card("score") == str(status["score"])
    assert status["timezone"] in page.inner_text("#zone")
    told: Any = console.get(f"/accounts/{account_id}/story")
    facts = marks(page, "#timeline > li", "type", "event")
    assert [(f["type"], f["event"]) for f in facts] == [(f["type"], f["event_id"]) for f in told["facts"]]
    assert len(page.query_selector_all("#timeline ul.decisions > li")) == sum(
        len(f["decisions"]) for f in told["facts"]
    )
    locked_by = next(
        f for f in told["facts"] if any(d["rule"] == "lock.overdue" and d["command"] for d in f["decisions"])
    )
    lock = next(d for d in locked_by["decisions"] if d["rule"] == "lock.overdue")
    shown = page.inner_text(f'#timeline > li[data-event="{locked_by["event_id"]}"] li[data-rule="lock.overdue"]')
    assert "LockCard" in shown and lock["command"]["command_id"] in shown
    assert lock["thresholds"], "the thresholds a lock compared with are told"
    for name, value in lock["thresholds"].items():
        assert f"{name}={value}" in shown, name
    for name, value in lock["facts"].items():  # the figures the rule saw
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            assert f"{name}={value}" in shown, name
    first = datetime.fromisoformat(told["facts"][0]["occurred_at"]).astimezone(ZoneInfo(status["timezone"]))
    expected = first.strftime("%Y-%m-%d %H:%M ") + first.strftime("%z")[:3] + ":" + first.strftime("%z")[3:]
    assert page.inner_text("#timeline > li:first-child .when") == expected  # in the account's zone, with its offset
    assert "(sealed)" in page.inner_text("#timeline > li:first-child")  # personal data never shown
    assert card("tier") == (status["risk_tier"] or "—")
    print(f"account: {shot(page, 'account')}")
    go(page, "#/account/NO-SUCH-ACCOUNT")
    assert page.is_visible("#not-found")


def test_the_collection_queue_sorts_filters_and_pages_as_the_api_does(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    go(page, "#/queue/")
    ids = lambda: [r["key"] for r in marks(page, "#queue-table tbody tr", "key")]  # noqa: E731
    first: Any = console.get("/collection-queue", limit=25)
    assert ids() == [row["account_id"] for row in first["items"]]
    cells = marks(page, "#queue-table tbody td[data-column=overdue_outstanding]", "column")
    assert len(cells) == len(first["items"])
    assert page.inner_text("#queue-table tbody tr:first-child td[data-column=overdue_outstanding]") == yuan(
        first["items"][0]["overdue_outstanding"]
    )
    page.evaluate("document.getElementById('view').dataset.ready = 'false'")
    page.click("#queue-table th button[data-sort=overdue_outstanding]")
    ready(page)
    by_amount: Any = console.get("/collection-queue", limit=25, sort="overdue_outstanding", order="desc")
    assert ids() == [row["account_id"] for row in by_amount["items"]]
    amounts = [Decimal(row["overdue_outstanding"]) for row in by_amount["items"]]
    assert amounts == sorted(amounts, reverse=True)
    page.select_option("#queue-filters select[name=bucket]", "1-30")
    page.evaluate("document.getElementById('view').dataset.ready = 'false'")
    page.click("#queue-filters button[type=submit]")
    ready(page)
    filtered: Any = console.get(
        "/collection-queue", limit=25, bucket="1-30", sort="overdue_outstanding", order="desc"
    )  # the sort is kept
    assert ids() == [row["account_id"] for row in filtered["items"]]
    assert filtered["total"] < first["total"]
    print(f"queue: {shot(page, 'queue')}")
    if first["total"] > 25:
        go(page, "#/queue/")
        page.evaluate("document.getElementById('view').dataset.ready = 'false'")
        page.click("#view button[data-page=next]")
        ready(page)
        second: Any = console.get("/collection-queue", limit=25, offset=25)
        assert ids() == [row["account_id"] for row in second["items"]]


def test_the_session_cookie_is_out_of_reach_of_scripts_and_sign_out_ends_it(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console, Role.OPERATOR)
    assert "operator" in page.inner_text("#who")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["fengkong_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert "fengkong_session" not in page.evaluate("document.cookie")
    assert page.evaluate("Object.keys(localStorage)") in ([], ["fengkong.lang"])  # never the key
    stolen = page.evaluate("fetch('/console/session', {method: 'DELETE'}).then(r => r.status)")  # no CSRF token
    assert stolen == 403
    page.click("#sign-out")
    page.wait_for_selector("#sign-in", state="visible")
    assert page.evaluate("fetch('/accounts').then(r => r.status)") == 401
    page.reload()
    page.wait_for_selector("#sign-in", state="visible")


def test_amounts_are_formatted_exactly_from_their_decimal_strings(watched: Watched, console: Console) -> None:
    page = watched.page
    page.goto(f"{console.url}/console")
    shown = page.evaluate(
        """import('/console/assets/format.js').then(f => [
            f.yuan('1234567.5'), f.yuan('-0.5'), f.yuan('0'), f.yuan('99999999999999999.99'), f.yuan('2.345'),
            f.addAmounts(['0.10', '0.20', '-0.05']), f.addAmounts(['12345678901234567.89', '0.11']),
            f.localTime('2026-09-11T09:00:00+08:00'), f.zonedTime('2026-09-11T01:00:00+00:00', 'Asia/Shanghai'),
            f.percent(0.90384), f.yuan(null)])"""
    )
    assert shown == [
        "¥1,234,567.50",
        "-¥0.50",
        "¥0.00",
        "¥99,999,999,999,999,999.99",  # past a float's 15 digits, exact
        "¥2.35",
        "0.25",
        "12345678901234568.00",
        "2026-09-11 09:00 +08:00",
        "2026-09-11 09:00 +08:00",
        "90.4%",
        "—",
    ]
