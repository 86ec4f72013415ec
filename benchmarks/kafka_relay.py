"""The command relay of the latency row, traced: `python -m benchmarks.kafka_relay SPEC_JSON`.

It builds the relay as `fengkong relay` does (adapters.bootstrap.relay, the
same settings) and runs it until SIGTERM, noting per page when the store's
head moved and when the page was read, acknowledged and recorded
(benchmarks.kafka_trace); then it writes that trace to the spec's file.
"""

from __future__ import annotations

import signal
import sys

import orjson

from adapters import bootstrap
from adapters.runtime.signals import stop_on_signals
from adapters.settings import Settings
from benchmarks.kafka_trace import RelayTrace, write


def main() -> None:
    spec = orjson.loads(sys.argv[1])
    stop = stop_on_signals(signal.SIGTERM)
    settings = Settings.load(
        kafka_bootstrap_servers=spec["bootstrap"], store=spec["store"], commands_topic=spec["commands_topic"]
    )
    relay = bootstrap.relay(settings)
    trace = RelayTrace(relay)
    try:
        relay.run(stop)
    finally:
        write(spec.get("trace"), trace.jsonable())


if __name__ == "__main__":
    main()
