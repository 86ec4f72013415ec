"""The emergency brake's ledger, re-derived from the store's notification log (engine.brake_audit)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from adapters.bootstrap import open_log
from adapters.settings import Settings
from adapters.store.readers import StoredLog
from engine.brake_audit import BrakeAudit, audit_brake
from engine.policy import load_policy

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
    """Every verdict of the brake proven again, sequentially, in notification order."""
    log = open_log(settings)
    try:
        return audit_brake(_notifications(log), functools.cache(load_policy))
    finally:
        log.close()
