"""The console's work queues and reports in Chromium: operators act from the page and see the effect.

Held locks released and dropped, a review approved, each after a confirmation;
an action without the CSRF token refused; an analyst without actions; the
proposals' evidence and the shadow run's comparison against the API's figures.
The store and the server are the suite's (tests/browser/conftest.py).
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page

from adapters.access.keys import Role
from tests.browser.conftest import CANDIDATE, Console, Watched, go, marks, ready, shot, sign_in


def _eventually(check: Any, seconds: float = 15.0) -> Any:
    """The read models follow the store (serve's follower): an action shows there within moments."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _act(page: Page, row: str, action: str, note: str) -> str:
    page.click(f'{row} button[data-action="{action}"]')
    page.wait_for_selector("dialog#confirm[open]")
    page.fill("dialog#confirm textarea", note)
    page.evaluate("document.getElementById('flash')?.remove()")  # the last action's outcome
    page.click("#confirm-yes")
    page.wait_for_selector("#flash")
    ready(page)
    return page.inner_text("#flash")


def test_operators_release_and_drop_held_locks_and_decide_a_review_and_see_the_effect(
    watched: Watched, console: Console
) -> None:
    page = sign_in(watched, console, Role.OPERATOR)
    go(page, "#/reviews")
    held: Any = console.get("/held")
    reviews: Any = console.get("/reviews")
    assert len(held) >= 2 and reviews, "the suite's store has held locks and an open review"
    assert page.get_attribute("#brake-state", "data-state") == "tripped"
    shown = [r["key"] for r in marks(page, "#held-table tbody tr", "key")]
    assert shown == [h["hold_id"] for h in sorted(held, key=lambda h: h["cause_at"])][:20]
    assert [r["key"] for r in marks(page, "#reviews-table tbody tr", "key")] == [
        r["account_id"] for r in sorted(reviews, key=lambda r: r["deadline"])
    ][:20]
    second_row = page.inner_text(f'#held-table tr[data-key="{held[1]["hold_id"]}"]')
    assert "LockCard" in second_row and "+08:00" in second_row  # what a release emits; the cause in Shanghai time
    print(f"reviews and held locks: {shot(page, 'reviews-before')}")

    actions: list[dict[str, str]] = []
    page.on("request", lambda r: actions.append(r.headers) if r.method == "POST" else None)
    first, second = held[0], held[1]
    go(page, f"#/account/{first['account_id']}")
    assert page.inner_text("#status-card [data-field=held_lock_id] .value") == "held for an operator"
    go(page, "#/reviews")
    forged = page.evaluate(  # a script's action without the session's CSRF token
        "id => fetch(`/held/${id}/release`, {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: '{}'}).then(r => r.status)",
        first["hold_id"],
    )
    assert forged == 403
    row = f'#held-table tr[data-key="{first["hold_id"]}"]'
    page.click(f'{row} button[data-action="release"]')  # the confirmation says what will go out; cancelled
    page.wait_for_selector("dialog#confirm[open]")
    assert "LockCard" in page.inner_text("dialog#confirm")
    page.click("#confirm-no")
    assert len(console.get("/held")) == len(held)  # type: ignore[arg-type]

    flash = _act(page, row, "release", "billing confirmed the overdue report")
    assert first["account_id"] in flash and "LockCard" in flash
    assert page.query_selector(row) is None
    assert first["hold_id"] not in {h["hold_id"] for h in console.get("/held")}  # type: ignore[attr-defined]
    locked = _eventually(lambda: console.get(f"/accounts/{first['account_id']}")["account"]["card_locked"])  # type: ignore[index]
    assert locked, "the released lock reached the read models"
    go(page, f"#/account/{first['account_id']}")
    assert page.inner_text("#status-card [data-field=card_locked] .value") == "locked"
    assert page.inner_text("#status-card [data-field=held_lock_id] .value") == "—"
    assert f"released the held lock {first['hold_id']}" in page.inner_text("#timeline")
    print(f"account after a release: {shot(page, 'account-after-release')}")

    go(page, "#/reviews/")
    dropped = _act(page, f'#held-table tr[data-key="{second["hold_id"]}"]', "drop", "billing fault")
    assert second["account_id"] in dropped
    assert second["hold_id"] not in {h["hold_id"] for h in console.get("/held")}  # type: ignore[attr-defined]

    review = sorted(reviews, key=lambda r: r["deadline"])[0]
    decided = _act(page, f'#reviews-table tr[data-key="{review["account_id"]}"]', "approve", "plan checked by phone")
    assert review["account_id"] in decided
    assert page.query_selector(f'#reviews-table tr[data-key="{review["account_id"]}"]') is None
    assert review["account_id"] not in {r["account_id"] for r in console.get("/reviews")}  # type: ignore[attr-defined]
    unlocked = _eventually(
        lambda: not console.get(f"/accounts/{review['account_id']}")["account"]["card_locked"]  # type: ignore[index]
    )
    assert unlocked, "the approved review unlocked the card in the read models"
    print(f"reviews and held locks after: {shot(page, 'reviews-after')}")
    confirmed = actions[1:]  # the first is the forged one
    assert len(confirmed) == 3 and all(h.get("x-csrf-token") for h in confirmed)
    assert len({h["idempotency-key"] for h in confirmed}) == 3  # a retried request would act once

    stale = held[2]  # another operator drops it while this page still lists it
    elsewhere = console.api.post(
        f"/held/{stale['hold_id']}/drop",
        json={"reason": "dropped from the CLI"},
        headers={"Authorization": f"Bearer {console.keys[Role.OPERATOR]}"},
    )
    assert elsewhere.status_code == 200, elsewhere.text
    refused = _act(page, f'#held-table tr[data-key="{stale["hold_id"]}"]', "release", "too late")
    assert "error" in (page.get_attribute("#flash", "class") or "") and refused.startswith("Refused")
    assert page.query_selector(f'#held-table tr[data-key="{stale["hold_id"]}"]') is None  # read again: gone


def test_an_analyst_sees_the_queues_without_actions_and_cannot_act(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console, Role.ANALYST)
    go(page, "#/reviews")
    assert page.query_selector("#held-table") is not None
    assert page.query_selector("[data-action]") is None
    csrf = page.evaluate("fetch('/console/session').then(r => r.json()).then(b => b.csrf_token)")
    held: Any = console.get("/held")
    status = page.evaluate(
        "([id, token]) => fetch(`/held/${id}/release`, {method: 'POST', headers: {'Content-Type': 'application/json',"
        " 'X-CSRF-Token': token}, body: '{}'}).then(r => r.status)",
        [held[0]["hold_id"], csrf],
    )
    assert status == 403  # the token is right, the role is not


def test_reports_show_the_proposals_evidence_and_the_shadow_runs_comparison(watched: Watched, console: Console) -> None:
    page = sign_in(watched, console)
    go(page, "#/reports")
    policies: Any = console.get("/policies")
    assert [r["key"] for r in marks(page, "#policies-table tbody tr", "key")] == [p["version"] for p in policies]
    proposal = next(p for p in policies if p["version"] == CANDIDATE)
    row = page.inner_text(f'#policies-table tr[data-key="{CANDIDATE}"]')
    whatif, shadow = proposal["report"], proposal["shadow"]
    assert f"{whatif['differing_count']} of {whatif['accounts']} accounts differ" in row
    assert f"{shadow['differing_count']} of {shadow['accounts']} accounts differ" in row

    page.evaluate("document.getElementById('view').dataset.ready = 'false'")
    page.click(f'#shadow-table a[href="#/reports/shadow/{CANDIDATE}"]')
    ready(page)
    report: Any = console.get(f"/shadow/runs/{CANDIDATE}/report")
    card = lambda field: page.inner_text(f"#report-figures [data-field={field}] .value")  # noqa: E731
    assert (card("accounts"), card("facts"), card("differing")) == (
        f"{report['accounts']:,}",
        f"{report['facts']:,}",
        f"{report['differing_count']:,}",
    )
    bars = marks(page, "#report-commands rect.bar", "series", "x", "value")
    assert {(b["series"], b["x"]): int(b["value"]) for b in bars if b["value"] != "0"} == {
        (side, kind): n for side, counts in report["commands_by_type"].items() for kind, n in counts.items() if n
    }
    assert report["commands_by_type"]["recorded"] != report["commands_by_type"]["candidate"]
    shown = [a["account"] for a in marks(page, "#report-differing a", "account")]
    assert shown == report["differing_accounts"][:200]
    assert page.inner_text('#locks-table tr[data-key="candidate"] td:last-child') == str(report["locks"]["candidate"])
    print(f"shadow report: {shot(page, 'report-shadow')}")

    go(page, f"#/reports/policy/{CANDIDATE}")
    diff = page.inner_text('#diff-table tr[data-key="lock.min_days_past_due"]')
    assert "1" in diff and "7" in diff
    evidence = page.inner_text("#evidence-whatif #report-figures")
    assert f"{whatif['differing_count']:,}" in evidence and f"{whatif['accounts']:,}" in evidence
    print(f"proposal: {shot(page, 'report-policy')}")
