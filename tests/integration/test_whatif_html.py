"""The what-if report's HTML renders in a real browser (Debian's Chromium) with the network cut off.

Every request the page makes that is not the report itself fails the test:
the report is self-contained (inline styles, server-side SVG, no script).
A screenshot is kept in the test's tmp dir for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

from tests.integration.test_cli import fengkong
from tests.integration.test_whatif import generated_events, policy_file
from tests.support.histories import lines

CHROMIUM = "/usr/bin/chromium"


def test_the_html_report_renders_in_chromium_without_network(tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Chromium is not installed: apt-get install -y chromium fonts-noto-cjk (.ci/run does)")
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines(generated_events(11, accounts=60))))
    fengkong("ingest", "events.jsonl", cwd=tmp_path)
    report = tmp_path / "report.html"
    done = fengkong(
        "audit",
        "whatif",
        "--policy",
        str(policy_file(tmp_path, "dpd7-v1", 7)),
        "--html",
        str(report),
        "--json",
        cwd=tmp_path,
        ok=False,
    )
    assert done.returncode == 1
    differing = len(json.loads(done.stdout)["differing_accounts"])
    outside: list[str] = []

    def refuse_the_network(route: Route) -> None:
        url = route.request.url
        if url == report.as_uri():
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", refuse_the_network)
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(report.as_uri())
            assert page.title() == "What-if report: dpd7-v1"
            text = page.inner_text("body")
            assert f"{differing} of 60 accounts differ" in text
            assert page.locator("svg rect").count() > 4  # the charts were drawn
            box = page.locator("svg").first.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 50
            rows = page.locator("h2:has-text('Differing accounts') + table tbody tr").count()
            assert rows == differing
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert outside == [] and failed == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
