"""`fengkong serve`: the read-model HTTP API, with the projections following the store."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import click

from adapters import bootstrap
from adapters.cli.common import load_settings, store_option
from adapters.rebuild.parallel import catch_up
from adapters.settings import Settings
from adapters.store.availability import is_unavailable
from adapters.store.urls import redact

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0


def logged_progress(label: str) -> Callable[[int, int], None]:
    """A progress callback that logs a line at most every PROGRESS_EVERY_S (the server's log is line by line)."""
    last = time.monotonic()

    def update(position: int, head: int) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            log.info("%s: %d of %d events", label, position, head)

    return update


def first_catch_up(settings: Settings) -> None:
    """Catch up before following: read models that never ran are loaded in memory, as `projections follow` does.

    Page by page, a read model that never ran holds every other one back too (a page starts at the lowest
    position), so loading it first is sooner for all of them. It runs on this thread, in this process: a
    server stopped meanwhile exits at once and the load's uncommitted rows go with it. A failure is one line
    and following goes on page by page, retrying as it does.
    """
    started = time.monotonic()
    try:
        done = catch_up(settings, jobs=1, progress=logged_progress("read models catching up"))
    except Exception as error:
        name = type(error).__name__
        quiet = is_unavailable(error)  # an outage: one line; anything else: its traceback
        log.warning("read models' catch-up failed (%s); following page by page", name, exc_info=not quiet)
        return
    if done.read:
        loaded = f" ({', '.join(done.loaded)} loaded in memory)" if done.loaded else ""
        log.info("read models caught up: %d events in %.1fs%s", done.read, time.monotonic() - started, loaded)


def start_follower(settings: Settings, poll: float) -> tuple[threading.Thread, threading.Event]:
    """Keep the read models current in a background thread while the API serves them."""
    stop = threading.Event()

    def run() -> None:
        first_catch_up(settings)
        runner = bootstrap.projection_runner(settings)
        try:
            runner.follow(stop, poll)
        finally:
            runner.close()

    thread = threading.Thread(target=run, name="projections", daemon=True)
    thread.start()
    return thread, stop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--follow/--no-follow", default=True, show_default=True, help="Keep the read models current.")
@click.option("--poll", default=0.2, show_default=True, help="Seconds between polls of the store when idle.")
@store_option
def serve(host: str, port: int, follow: bool, poll: float, store: str | None) -> None:
    """Serve the read models over HTTP (OpenAPI at /openapi.json, the risk console at /console).

    Where it listens, and one line per request (method, route, status, time:
    never the client's address, the ids in the path or the query), go to stderr.
    """
    import uvicorn  # noqa: PLC0415  (as FastAPI in bootstrap.api: only `serve` pays for the web server)

    settings = load_settings(store=store)
    app = bootstrap.api(settings)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"serving the read models of {redact(settings.store)} at http://{shown}:{port} "
        "(OpenAPI /openapi.json, console /console); requests are logged here; Ctrl-C to stop",
        err=True,
    )
    if logging.getLogger().level > logging.INFO:
        logging.getLogger("fengkong.http.requests").setLevel(logging.INFO)  # one line per request, no personal data
        log.setLevel(logging.INFO)  # the read models' first catch-up: its progress, then one line
    follower = start_follower(settings, poll) if follow else None
    try:
        # uvicorn's own access log names the client's address and the query: ours names neither
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    finally:
        if follower is not None:
            follower[1].set()
            follower[0].join(timeout=10)
