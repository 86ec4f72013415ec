"""What both throwaway servers share: ports, logs, the repository's paths, keeping their folders."""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas with importlib.resources.read_text/open_text,
    # deprecated since 3.11: 200+ DeprecationWarnings per session otherwise.
    warnings.filterwarnings("ignore", r"(read_text|open_text) is deprecated", DeprecationWarning)

KEEP_ENV = "FENGKONG_KEEP_SERVICES"
"""Set to 1 to keep the servers' temp dirs (data and logs) after the run."""

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOG4J_CONFIG = REPO_ROOT / "services" / "kafka" / "log4j2.properties"
FETCH_KAFKA = REPO_ROOT / "services" / "fetch_kafka.sh"
DEFAULT_PG_BIN = Path(os.environ.get("FENGKONG_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServiceError(RuntimeError):
    """A test server failed to start or stop; the message carries its log tail."""


def free_ports(count: int) -> list[int]:
    """Return `count` distinct free loopback ports (held open together so they differ)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages that explain a failed start."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


KEEP_HINT = f"(set {KEEP_ENV}=1 to keep the log after the run)"


def keep_services() -> bool:
    """Whether FENGKONG_KEEP_SERVICES asks to keep data dirs for post-mortems."""
    return os.environ.get(KEEP_ENV, "") not in ("", "0", "false", "no")
