"""Stopping a long-running command on a signal, without the signal handler deadlocking it.

Python runs a signal handler in the main thread, between two bytecodes: possibly
while that thread holds the lock of the very `threading.Event` the handler sets
(`Event.wait` holds it for an instant on its way out). `Event.set` in the
handler then waits for a lock its own thread holds, forever, and every later
signal piles up behind it: a relay was found so, hung on SIGTERM. The handler
only starts a thread that sets the event, and returns.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


def stop_on_signals(*signums: signal.Signals) -> threading.Event:
    """An event set once one of these signals arrives (default SIGTERM, SIGINT): loops finish their batch, exit."""
    stop = threading.Event()

    def set_stop(signum: int) -> None:
        log.info("signal %d: finishing the current batch, then stopping", signum)
        stop.set()

    def handle(signum: int, frame: object) -> None:
        threading.Thread(target=set_stop, args=(signum,), name="stop-on-signal", daemon=True).start()

    for signum in signums or (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)
    return stop
