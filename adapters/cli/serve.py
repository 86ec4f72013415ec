"""`fengkong serve`: the read-model HTTP API, with the projections following the store."""

from __future__ import annotations

import logging
import threading

import click

from adapters import bootstrap
from adapters.cli.common import load_settings, store_option
from adapters.settings import Settings
from adapters.store.urls import redact

log = logging.getLogger(__name__)


def start_follower(settings: Settings, poll: float) -> tuple[threading.Thread, threading.Event]:
    """Keep the read models current in a background thread while the API serves them."""
    stop = threading.Event()

    def run() -> None:
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
    follower = start_follower(settings, poll) if follow else None
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"serving the read models of {redact(settings.store)} at http://{shown}:{port} "
        "(OpenAPI /openapi.json, console /console); requests are logged here; Ctrl-C to stop",
        err=True,
    )
    if logging.getLogger().level > logging.INFO:
        logging.getLogger("fengkong.http.requests").setLevel(logging.INFO)  # one line per request, no personal data
    try:
        # uvicorn's own access log names the client's address and the query: ours names neither
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    finally:
        if follower is not None:
            follower[1].set()
            follower[0].join(timeout=10)
