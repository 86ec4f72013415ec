"""A real browser against a real `fengkong serve`: Debian's Chromium driven by Playwright for Python.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(`.ci/run` installs it with fonts-noto-cjk when missing; FENGKONG_CHROMIUM
names another). Missing Chromium fails the suite, never skips it.

One server and one browser serve the suite, package-scoped (Playwright's sync
API is closed again before other packages' tests start their own). The store
is a small demo, a candidate policy proposed with its what-if report, and a
burst of 56 overdue accounts shadowed under it, which trips the brake (locks
held). Each test gets a fresh browser context (no cookies, no storage). Every
request a page makes is checked: one that leaves the server is aborted and
fails the test, and so does a script error. Screenshots go to
`.artifacts/console/` (FENGKONG_ARTIFACTS overrides), printed at the start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from adapters.access.keys import Role
from tests.integration.test_http_api import free_port
from tests.integration.test_whatif import policy_file
from tests.support.bursts import Burst, burst_events, portfolio
from tests.support.wiring import key_at

CHROMIUM = os.environ.get("FENGKONG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FENGKONG_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts")) / "console"
BIN = Path(sys.executable).parent
ACCOUNTS, DAYS = 60, 120
"""The demo the suite reads: small (about 1,300 events, 2 s) but with every bucket to 31-60 and a review."""
BURST = Burst(accounts=60, overdue=56, shape="one_instant", span_minutes=0, seed=7)
"""56 locks at one instant against the bound of 50 (120 active accounts): 6 held."""
CANDIDATE = "dpd7-v1"
"""The candidate policy the suite proposes and shadows: locks at 7 days past due, not 1."""


@dataclass
class Console:
    url: str
    store: str
    keys: dict[Role, str]
    api: httpx.Client  # the API with an analyst's bearer key: what the pages must show

    def get(self, path: str, **params: object) -> object:
        answer = self.api.get(path, params={k: v for k, v in params.items() if v is not None})
        answer.raise_for_status()
        return answer.json()


@dataclass
class Watched:
    page: Page
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console")
    store = str(workdir / "demo.db")
    demo = [str(BIN / "fengkong"), "demo", "--accounts", str(ACCOUNTS), "--days", str(DAYS), "--store", store, "--json"]
    subprocess.run(demo, cwd=workdir, check=True, capture_output=True, timeout=300)
    keys = {role: key_at(store, role, f"browser-{role}") for role in (Role.ANALYST, Role.OPERATOR, Role.ADMIN)}
    # A candidate policy proposed with its what-if report, then shadowed on the next traffic: a burst
    # of overdue accounts, which also trips the brake (locks held for an operator).
    candidate = policy_file(workdir, CANDIDATE, 7)
    (workdir / "burst.jsonl").write_bytes(b"\n".join([*portfolio(BURST.accounts), *burst_events(BURST)[0]]))
    for step in (
        ["policy", "propose", str(candidate), "--key", keys[Role.ADMIN]],
        ["policy", "report", CANDIDATE, "--key", keys[Role.ADMIN]],
        ["ingest", "burst.jsonl", "--shadow", str(candidate)],
        ["policy", "shadow", CANDIDATE, "--key", keys[Role.ADMIN]],
        ["projections", "catch-up"],
    ):
        done = subprocess.run(
            [str(BIN / "fengkong"), *step, "--store", store], check=False, cwd=workdir, capture_output=True
        )
        assert done.returncode == 0, (step, done.stderr.decode())
    port = free_port()
    log = (workdir / "serve.log").open("wb")
    server = subprocess.Popen(  # following the store: an operator's action shows in the read models
        [str(BIN / "fengkong"), "serve", "--store", store, "--port", str(port), "--poll", "0.1"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (workdir / "serve.log").read_text()
            assert time.monotonic() < deadline, "fengkong serve did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[Role.ANALYST]}"}) as api:
            yield Console(url, store, keys, api)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium fonts-noto-cjk` (.ci/run does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {ARTIFACTS}", file=sys.stderr)
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--mute-audio"],
    )


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1300, "height": 1000}, locale="en-GB", timezone_id="Europe/London")
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def watched(context: BrowserContext, console: Console) -> Iterator[Watched]:
    """A page whose every request is checked: anything not for the server is aborted and fails the test."""
    page = context.new_page()
    seen = Watched(page)

    def check(route: Route) -> None:
        target = route.request.url
        if target.startswith((console.url + "/", "data:")):
            route.continue_()
        else:
            seen.outside.append(target)
            route.abort()

    context.route("**/*", check)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("console", lambda message: _console(seen, message.type, message.text))
    yield seen
    assert not seen.outside, f"requests that left the server: {seen.outside}"
    assert not seen.errors, f"errors in the page: {seen.errors}"


HANDLED = "Failed to load resource: the server responded with a status of 4"
"""A 4xx answer the page handles (not signed in yet, no such account) is logged by Chromium; not an error."""


def _console(seen: Watched, kind: str, text: str) -> None:
    if kind == "error" and not text.startswith(HANDLED):
        seen.errors.append(text)


def sign_in(watched: Watched, console: Console, role: Role = Role.ANALYST, hash_: str = "") -> Page:
    page = watched.page
    page.goto(f"{console.url}/console{hash_}")
    page.fill("#key", console.keys[role])
    page.click("#sign-in-form button[type=submit]")
    ready(page)
    return page


def ready(page: Page) -> None:
    page.wait_for_selector("#view[data-ready=true]")


def go(page: Page, hash_: str) -> None:
    page.evaluate("h => { document.getElementById('view').dataset.ready = 'false'; location.hash = h; }", hash_)
    ready(page)


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def marks(page: Page, selector: str, *names: str) -> list[dict[str, str]]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        selector,
        "(nodes, names) => nodes.map(n => Object.fromEntries(names.map(k => [k, n.dataset[k] ?? ''])))",
        list(names),
    )
