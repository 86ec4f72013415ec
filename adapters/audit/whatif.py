"""What-if reports: a candidate policy replayed over recorded history in a sandbox, compared with what happened.

The candidate is a policy file, or a version the store recorded (or the
engine ships). Its version must not be one the store recorded with other
content: versions are immutable, in a report too. Nothing is written to the
store or to any topic; the replay reads the store only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.audit.parallel import Progress, WhatIfJob, what_if
from adapters.bootstrap import open_engine
from adapters.settings import Settings
from engine.governance import Requested
from engine.policy import policy_text
from engine.whatif import Period
from engine.whatif_summary import Summary


def candidate_text(settings: Settings, name_or_path: str) -> Requested:
    """The candidate's text, validated: a file, else a version recorded in the store, else a shipped one.

    Raises FileNotFoundError if it is none of these, engine.documents.DocumentConflict if the store
    recorded its version (or its scorecard's) with other content, ValueError if it does not validate.
    """
    path = Path(name_or_path)
    engine = open_engine(settings)
    try:
        documents = engine.documents()
        if path.suffix == ".toml" or path.exists():
            if not path.is_file():
                raise FileNotFoundError(f"no policy file {name_or_path}")
            requested = Requested.of(path.read_text(encoding="utf-8"))
        else:
            recorded = documents.policies.document(name_or_path)
            requested = (
                documents.policy_of(recorded.text) if recorded is not None else Requested.of(policy_text(name_or_path))
            )
        documents.check(requested)
        return requested
    finally:
        engine.close()


def whatif_report(
    settings: Settings,
    candidate: Requested,
    period: Period,
    accounts: Sequence[str] | None,
    jobs: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The what-if report as JSON-ready values (docs/audit.md): complete, never truncated."""
    started = time.perf_counter()
    summary = Summary()
    for outcome in what_if(settings, WhatIfJob(candidate.document.text, period), accounts, jobs, progress):
        summary.add(outcome)
    elapsed = time.perf_counter() - started
    return {
        "candidate": {"version": candidate.document.version, "digest": candidate.document.digest},
        "period": {
            "from": period.start.isoformat() if period.start else None,
            "to": period.end.isoformat() if period.end else None,
        },
        **summary.json(),
        "seconds": round(elapsed, 3),
        "facts_per_second": round(summary.facts / elapsed) if elapsed > 0 else None,
    }


def report_summary(report: dict[str, Any], digest: str, head: int) -> dict[str, Any]:
    """What a proposal records of its what-if report: the figures, the report's digest, the store head it saw."""
    return {
        "candidate_digest": report["candidate"]["digest"],
        "report_digest": digest,
        "store_head": head,
        "period": report["period"],
        "accounts": report["accounts"],
        "facts": report["facts"],
        "commands_by_type": report["commands_by_type"],
        "differing_count": report["differing_count"],
    }
