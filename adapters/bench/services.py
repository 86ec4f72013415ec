"""The test suite's own service module (tests/support/services.py), loaded for `--postgres auto` and `--kafka auto`.

The bench starts the same throwaway PostgreSQL server and Kafka broker the
tests use, so a fresh clone needs nothing beyond `make bench`; the module
lives with the tests, hence it is loaded from its path (a source checkout).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "tests" / "support" / "services.py"
FETCH_KAFKA = REPO_ROOT / "services" / "fetch_kafka.sh"


class NoService(Exception):
    """A throwaway server could not be had; the message says why."""


def load_services() -> ModuleType:
    if not SERVICES.exists():
        raise NoService(f"'auto' needs {SERVICES.relative_to(REPO_ROOT)} (a source checkout)")
    spec = importlib.util.spec_from_file_location("fengkong_bench_services", SERVICES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kafka_libs() -> Path:
    """The Kafka broker's jars: $FENGKONG_KAFKA_LIBS, else services/fetch_kafka.sh's cache (fetched once)."""
    override = os.environ.get("FENGKONG_KAFKA_LIBS")
    if override:
        return Path(override)
    done = subprocess.run(
        ["bash", str(FETCH_KAFKA)], check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise NoService(f"services/fetch_kafka.sh failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return Path(lines[-1].strip())
