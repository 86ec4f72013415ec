"""Helpers for the reliability tests: reconcile as a gate, reference runs cached per input, process watching."""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from adapters.cli import cli
from engine.application import RiskEngine
from tests.kafka.support import Reference, Topics, caught_up, reference_run, wait_for
from tests.support.wiring import open_engine, outbox_drained

RETRY_LINE = re.compile(r"failed \((\w+).*\); retrying in")


def reconcile(store: str, *args: str, expect_ok: bool = True) -> dict[str, Any]:
    """`fengkong reconcile --json` in process; asserts its exit status matches `expect_ok`."""
    result = CliRunner().invoke(cli, ["reconcile", "--store", store, "--json", *args])
    assert result.exit_code in (0, 1), result.output + repr(result.exception)
    report: dict[str, Any] = orjson.loads(result.stdout)
    if expect_ok:
        assert result.exit_code == 0 and report["ok"], f"reconcile found gaps: {brief(report)}"
    else:
        assert result.exit_code == 1 and not report["ok"]
    return report


def brief(report: dict[str, Any], shown: int = 3) -> dict[str, Any]:
    """Each kind of gap with its count and first few items, for an assertion message."""
    return {kind: {"count": gaps["count"], "first": gaps["items"][:shown]} for kind, gaps in report["gaps"].items()}


def topic_args(bootstrap: str, topics: Topics, *, commands: bool = True) -> list[str]:
    """Reconcile what came in on the events topic, with its dead letters (and the commands topic)."""
    args = ["--bootstrap-servers", bootstrap, "--topic", topics.events, "--dead-letter-topic", topics.dead_letters]
    return [*args, "--commands-topic", topics.commands] if commands else [*args, "--no-commands"]


@functools.cache
def _reference(digest: str, lines: tuple[bytes, ...]) -> Reference:
    return reference_run(list(lines), Path(tempfile.mkdtemp(prefix="fengkong-ref-")) / f"{digest[:12]}.db")


def cached_reference(lines: list[bytes]) -> Reference:
    """The clean run of `lines` (one engine, in order, SQLite), computed once per input per session."""
    digest = hashlib.sha256(b"\n".join(lines)).hexdigest()
    return _reference(digest, tuple(lines))


_READERS: dict[str, RiskEngine] = {}


def reader(store: str) -> RiskEngine:
    """One engine per store for polling positions; `close_readers()` when the store is done with."""
    if store not in _READERS:
        _READERS[store] = open_engine(store)
    return _READERS[store]


def close_readers() -> None:
    """Close the polling engines: each holds a pool of PostgreSQL connections (the server allows 100)."""
    while _READERS:
        _READERS.popitem()[1].close()


def relay_drained(store: str, commands_topic: str) -> bool:
    return outbox_drained(store, commands_topic)


def recorded_total(store: str, topic: str) -> int:
    return sum(reader(store).positions(topic).values())


def settle(store: str, bootstrap: str, topics: Topics, timeout_s: float = 120.0, *, relay: bool = True) -> None:
    """Wait until the store recorded every offset of the events topic (and the relay drained the outbox)."""
    done = caught_up(store, bootstrap, topics.events)
    wait_for(tolerant(done), timeout_s, "the worker to record every offset")
    if relay:
        wait_for(tolerant(lambda: relay_drained(store, topics.commands)), timeout_s, "the relay to drain the outbox")


def tolerant(predicate: Any) -> Any:
    """A predicate that counts as false while the store is unreachable (during an outage the test made)."""

    def check() -> bool:
        try:
            return bool(predicate())
        except Exception:
            return False

    return check


def retries_logged(log: Path) -> list[str]:
    """The error class of each 'retrying in' line a process logged."""
    return RETRY_LINE.findall(log.read_text(errors="replace")) if log.exists() else []


def alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None
