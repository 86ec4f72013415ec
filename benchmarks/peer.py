"""Row 4, the peer: the lock rule as a Quix Streams application on the same topic and broker.

Quix Streams is what a Python team would likely pick for "consume, keep
state per key, produce". The application below does the one rule most of
the engine's commands come from, as simply as the library allows:

* every record is deserialised (JSON) and counted; DayClosed copies and the
  types the rule ignores stop there;
* per account key it keeps a state {bill_id: outstanding} of the bills last
  reported overdue with days_past_due >= 1, and a `locked` flag;
* an OverdueReported that brings that overdue total to >= 1.00 while not
  locked sets `locked` and emits one LockCard-like message to an output topic;
* a RepaymentReceived pays the named bill (or the plan's installments, or
  the oldest reported bills first) down in that state; when nothing overdue
  is left, `locked` is reset, so the next overdue episode locks again.

Per event it does no contract validation, no deduplication by event_id, no
other rule, records no decision and keeps no audit trail: its state is a
RocksDB store with a changelog topic (Quix's recovery mechanism), committed
with the consumer offsets every `commit_interval` (5 s), at least once.

quixstreams pins pydantic below the version the engine uses, so `make bench`
installs it in its own environment (.venv-peer) and the row's child process
runs there; this module imports it only inside the row.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from decimal import Decimal
from typing import Any

from benchmarks.measure import peak_rss_mib

Spec = dict[str, Any]
ONE = Decimal("1.00")
ZERO = Decimal(0)
RULE_TYPES = ("OverdueReported", "RepaymentReceived")


class NoPeer(Exception):
    """quixstreams cannot be imported here; the reason is printed."""


def lock_rule(value: dict[str, Any], state: Any) -> dict[str, Any] | None:
    """The stateful step: update the account's overdue bills; a LockCard-like dict once per episode."""
    data = value["data"]
    overdue: dict[str, str] = state.get("overdue", {})
    locked: bool = state.get("locked", False)
    command = None
    if value["type"] == "OverdueReported":
        if data["days_past_due"] < 1:
            return None
        overdue[data["bill_id"]] = data["outstanding"]
        if not locked and sum((Decimal(v) for v in overdue.values()), ZERO) >= ONE:
            locked = True
            command = {
                "type": "LockCard",
                "account_id": value["account_id"],
                "cause_event_id": value["event_id"],
                "rule": "peer.lock.overdue",
            }
    else:
        if not overdue:
            return None
        left = Decimal(data["amount"])
        named = data.get("bill_id") or data.get("plan_id")
        bills = [b for b in overdue if named and (b == named or b.startswith(f"{named}#"))] or list(overdue)
        for bill in bills:
            paid = min(left, Decimal(overdue[bill]))
            left -= paid
            rest = Decimal(overdue[bill]) - paid
            if rest > ZERO:
                overdue[bill] = str(rest)
            else:
                del overdue[bill]
            if left <= ZERO:
                break
        if locked and not overdue:
            locked = False
    state.set("overdue", overdue)
    state.set("locked", locked)
    return command


def quix_peer(spec: Spec) -> dict[str, Any]:
    """Run the application over the published topic until it has processed every record."""
    try:
        import quixstreams  # noqa: PLC0415 - only in the peer's own environment
        from quixstreams import Application  # noqa: PLC0415
    except ImportError as error:
        raise NoPeer(f"quixstreams is not installed in {spec.get('python', 'this interpreter')} ({error})") from None
    published = spec["published"]
    total = published["records"]
    output = f"bench.peer.locks.{uuid.uuid4().hex[:8]}"
    state_dir = tempfile.mkdtemp(prefix="fengkong-bench-quix-")
    app = Application(
        broker_address=spec["bootstrap"],
        consumer_group=f"fengkong-bench-quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    events = app.topic(published["topics"]["events"], value_deserializer="json", key_deserializer="str")
    locks = app.topic(output, value_serializer="json", key_serializer="str")
    progress = {"seen": 0, "first": 0.0, "last": 0.0, "emitted": 0}

    def count(value: Any) -> None:
        if not progress["seen"]:
            progress["first"] = time.perf_counter()
        progress["seen"] += 1
        if progress["seen"] >= total:
            progress["last"] = time.perf_counter()
            app.stop()

    def emitted(value: Any) -> None:
        progress["emitted"] += 1

    sdf = app.dataframe(events)
    sdf = sdf.update(count)
    sdf = sdf.filter(lambda value: value.get("type") in RULE_TYPES)
    sdf = sdf.apply(lock_rule, stateful=True)
    sdf = sdf.filter(lambda command: command is not None)
    sdf = sdf.update(emitted)
    sdf.to_topic(locks)
    try:
        app.run()
        ended = time.perf_counter()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    if progress["seen"] < total:
        raise RuntimeError(f"the application stopped after {progress['seen']:,} of {total:,} records")
    seconds = ended - progress["first"]
    return {
        "events": int(progress["seen"]),
        "seconds": round(seconds, 3),
        "events_per_second": round(progress["seen"] / seconds, 1),
        "last_record_seconds": round(progress["last"] - progress["first"], 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "locks_emitted": int(progress["emitted"]),
        "output_topic": output,
        "quixstreams": quixstreams.__version__,
    }


def main() -> None:
    """`python -m benchmarks.peer SPEC_JSON` in the peer's environment: one JSON line, like benchmarks.child."""
    spec = json.loads(sys.argv[1])
    warnings.simplefilter("ignore")  # its dependencies' deprecation notices, some imported lazily, are not results
    try:
        result = {"status": "measured", **quix_peer(spec)}
    except NoPeer as reason:
        result = {"status": "not measured", "reason": f"not measured: {reason}"}
    except Exception as error:
        traceback.print_exc()
        result = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
