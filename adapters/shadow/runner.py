"""The shadow runner: follows the store's log and decides each recorded fact again under a candidate policy.

It reads what the engine recorded (never Kafka, never the engine's batch), so
the shadow sees exactly the live traffic, in the order it was recorded, from
the moment it started (`started_position`). Its would-be decisions and the
recorded ones go to the shadow read model (adapters.shadow.tables); it emits
nothing and records nothing in the event store. `ingest --shadow FILE`
catches up after the input; `worker --shadow FILE` follows on a thread.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from adapters import bootstrap
from adapters.settings import Settings
from adapters.shadow.tables import PositionMoved, Run, ShadowTables, dumps
from engine.documents import Refused
from engine.governance import Requested
from engine.shadow import Applied, ShadowAccount, controls_json
from events.recorded import FACT_TOPIC, decode

log = logging.getLogger(__name__)
PAGE = 2000
CACHE = 20_000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ShadowRun:
    """One candidate's shadow on one store."""

    def __init__(self, settings: Settings, candidate: Requested, page: int = PAGE) -> None:
        self.candidate = candidate
        self.page = page
        self.engine = bootstrap.open_engine(settings)  # a reader: recorded histories and documents
        self.log = bootstrap.open_log(settings)
        self.tables = ShadowTables(bootstrap.open_tables(settings))
        self.accounts: OrderedDict[str, ShadowAccount] = OrderedDict()

    @property
    def version(self) -> str:
        return self.candidate.document.version

    def start(self) -> Run:
        """The candidate's run, begun now if it has none. Refused if its version is recorded with other content."""
        document = self.candidate.document
        self.engine.documents().check(self.candidate)
        self.tables.prepare()
        found = self.tables.run(document.version)
        if found is None:
            head = self.log.head()
            now = _now()
            self.tables.start(Run(document.version, document.digest, document.text, head + 1, head + 1, 0, now, now))
            found = self.tables.run(document.version)
            assert found is not None
        if found.digest != document.digest:
            raise Refused(f"a shadow of {document.version} with other content runs on this store already")
        return found

    def catch_up(self) -> int:
        """Shadow every fact recorded since the run's position; the facts read."""
        total = 0
        while True:
            run = self.tables.run(self.version)
            assert run is not None
            rows = self.log.read(run.position, self.page)
            if not rows:
                return total
            try:
                total += self._page(run, rows)
            except PositionMoved:
                self.accounts.clear()  # another process shadowed these facts: our accounts may be behind

    def _page(self, run: Run, rows: list[Any]) -> int:
        documents = self.engine.documents()
        latest = documents.latest_calendar()
        decisions: list[tuple[Any, ...]] = []
        touched: dict[str, ShadowAccount] = {}
        facts = 0
        for position, stream, topic, state in rows:
            if topic != FACT_TOPIC:
                continue
            body = decode(state)
            account = self._account(stream, body["fact"]["event_id"])
            applied = account.apply(body, self.candidate.policy, documents.calendar_for, latest)
            decisions += _rows(self.version, position, stream, applied)
            touched[stream] = account
            facts += 1
        accounts = [
            (self.version, a.account_id, dumps(controls_json(a.recorded)), dumps(controls_json(a.candidate)))
            for a in touched.values()
        ]
        self.tables.write(run, rows[-1][0] + 1, facts, decisions, accounts, _now())
        return facts

    def _account(self, account_id: str, event_id: str) -> ShadowAccount:
        cached = self.accounts.get(account_id)
        if cached is not None:
            self.accounts.move_to_end(account_id)
            return cached
        _, states = next(self.engine.recorded_histories([account_id]))
        index = next(i for i, state in enumerate(states) if state["fact"]["event_id"] == event_id)
        candidate = self.tables.candidate_controls(self.version, account_id)
        account = ShadowAccount.resume(account_id, states[:index], candidate)
        self.accounts[account_id] = account
        if len(self.accounts) > CACHE:
            self.accounts.popitem(last=False)
        return account

    def close(self) -> None:
        self.engine.close()
        self.log.close()
        self.tables.db.close()


def _rows(version: str, position: int, account_id: str, applied: Applied) -> list[tuple[Any, ...]]:
    day = applied.day.isoformat()
    found = []
    for side, decisions in (("recorded", applied.recorded), ("candidate", applied.candidate)):
        for seq, d in enumerate(decisions, start=1):
            command = d["command"]
            found.append(
                (
                    version,
                    side,
                    position,
                    seq,
                    account_id,
                    day,
                    d["cause_event_id"],
                    d["rule"],
                    dumps(d["facts"]),
                    dumps(d["changes"]),
                    None if command is None else str(command["type"]),
                    None if command is None else dumps(command),
                )
            )
    return found


class ShadowFollower(threading.Thread):
    """Keeps a shadow caught up beside a worker, every `interval_s`, until `stop` is set."""

    def __init__(self, run: ShadowRun, stop: threading.Event, interval_s: float = 1.0) -> None:
        super().__init__(name=f"shadow-{run.version}", daemon=True)
        self.run_ = run
        self.stop = stop
        self.interval_s = interval_s

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.run_.catch_up()
            except Exception:
                log.exception("shadow %s: catching up failed; trying again", self.run_.version)
            self.stop.wait(self.interval_s)
