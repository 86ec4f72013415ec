"""The emergency brake's ledger, re-derived from the store's notification log (engine.brake_audit)."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.bootstrap import open_log
from adapters.settings import Settings
from adapters.store.readers import StoredLog
from engine.brake_audit import BrakeAudit, audit_brake
from engine.governance import DOCUMENT_STREAM_IDS, InForce

PAGE = 5000


def _notifications(log: StoredLog) -> Iterator[tuple[int, str, bytes]]:
    start = 1
    while True:
        page = log.read(start, PAGE)
        for notification in page:
            yield notification.id, notification.topic, notification.state
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


def audit_brake_ledger(settings: Settings) -> BrakeAudit:
    """Every verdict of the brake proven again, sequentially, in notification order, under the recorded policies."""
    log = open_log(settings)
    try:
        recorded = InForce()
        recorded.load(log.recorder.select_streams(DOCUMENT_STREAM_IDS))
        return audit_brake(_notifications(log), recorded.policy_for)
    finally:
        log.close()
