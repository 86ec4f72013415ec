"""A throwaway Apache Kafka broker (KRaft, one node) from Maven Central jars, as a plain child process."""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import IO, Any

from services.throwaway.common import (
    DEFAULT_LOG4J_CONFIG,
    FETCH_KAFKA,
    KEEP_HINT,
    ServiceError,
    free_ports,
    keep_services,
    log_tail,
    port_open,
)

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas with importlib.resources.read_text/open_text,
    # deprecated since 3.11: 200+ DeprecationWarnings per session otherwise.
    warnings.filterwarnings("ignore", r"(read_text|open_text) is deprecated", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError


def kafka_libs() -> Path:
    """The broker's jars: $FENGKONG_KAFKA_LIBS, else what services/fetch_kafka.sh caches (fetched once)."""
    override = os.environ.get("FENGKONG_KAFKA_LIBS")
    if override:
        return Path(override)
    done = subprocess.run(
        ["bash", str(FETCH_KAFKA)], check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ServiceError(f"{FETCH_KAFKA} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Path(lines[-1].strip())


class KafkaBroker:
    """A single-node KRaft Kafka broker (broker + controller) on loopback.

    Ports and the data dir are chosen on the first `start()` and kept by
    `stop()`/`start()`/`restart()`, so topics and committed data survive a
    restart. `close()` is the final stop: it also removes the temp work dir
    (unless FENGKONG_KEEP_SERVICES=1); it runs at interpreter exit anyway.
    """

    def __init__(
        self,
        libs_dir: Path,
        work_dir: Path | None = None,
        *,
        log4j_config: Path = DEFAULT_LOG4J_CONFIG,
        heap: str = "512m",
        num_partitions: int = 4,
        start_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.libs_dir = Path(libs_dir)
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="fengkong-kafka-"))
        self.log4j_config = log4j_config
        self.heap = heap
        self.num_partitions = num_partitions
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = 0
        self.controller_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._closed = False
        atexit.register(self.close)

    @property
    def bootstrap_servers(self) -> str:
        """host:port for kafka-python's `bootstrap_servers`."""
        if not self.port:
            raise ServiceError("KafkaBroker has not been started")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's stdout/stderr (log4j console output)."""
        return self.work_dir / "kafka.log"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the broker (formatting storage on first use) and wait until it serves metadata."""
        if self._closed:
            raise ServiceError("KafkaBroker was closed")
        if self.running:
            return
        if not any(self.libs_dir.glob("kafka_2.13-*.jar")):
            raise ServiceError(f"no Kafka jars in {self.libs_dir}; run services/fetch_kafka.sh")
        if not self.port:
            self.port, self.controller_port = free_ports(2)
        config = self._write_config()
        if not (self.work_dir / "data" / "meta.properties").exists():
            self._format(config)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            [*self._java("kafka.Kafka", self.heap), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.work_dir,
            start_new_session=True,  # Ctrl-C in pytest must not bypass our orderly stop
        )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), escalating to SIGKILL after `stop_timeout`; keeps data."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._release()

    def kill(self) -> None:
        """SIGKILL the broker, like a crash; the next start recovers its logs."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._release()

    def restart(self) -> None:
        """Stop and start again on the same ports and data dir."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Final stop: stop the broker and remove its temp work dir unless asked to keep it."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        atexit.unregister(self.close)
        if self._owns_work_dir and not keep_services():
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _release(self) -> None:
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _java(self, main_class: str, heap: str) -> list[str]:
        """java command line; serial GC and C1-only JIT start fastest on a 2-core box."""
        cmd = [
            "java",
            f"-Xmx{heap}",
            "-Xss1m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.work_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
        ]
        setpriv = shutil.which("setpriv")
        if setpriv:  # the broker dies with us even if pytest is SIGKILLed
            cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
        return cmd

    def _write_config(self) -> Path:
        """Write server.properties for a single-node KRaft cluster on loopback."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.work_dir / "data"),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a kill the controller keeps the dead broker's registration
            # until its session expires (default 9 s): shorten that wait.
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.flush.interval.messages": "9223372036854775807",
        }
        path = self.work_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _format(self, config: Path) -> None:
        """Format the KRaft storage dir once; a restart must reuse it to keep data."""
        cluster_id = new_kafka_uuid()
        result = subprocess.run(
            [*self._java("kafka.tools.StorageTool", "256m"), "format", "-t", cluster_id, "-c", str(config)],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.work_dir,
            timeout=120,
        )
        if result.returncode != 0:
            raise ServiceError(f"kafka storage format failed:\n{result.stdout}\n{result.stderr}")

    def _wait_ready(self) -> None:
        """Race "broker serves metadata" against "process exited" and the deadline."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise ServiceError(
                    f"Kafka exited with code {code} during startup; log {self.log_path} {KEEP_HINT}:\n"
                    f"{log_tail(self.log_path)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceError(
                    f"Kafka not ready after {self.start_timeout:.0f}s; log {self.log_path} {KEEP_HINT}:\n"
                    f"{log_tail(self.log_path)}"
                )
            # Probe with a real client only once the port is bound: a failed
            # KafkaAdminClient bootstrap leaves its IO thread behind.
            if port_open(self.port) and _kafka_metadata_ok(self.bootstrap_servers, min(remaining, 10.0)):
                return
            time.sleep(0.1)


def admin_client(bootstrap_servers: str, **configs: Any) -> Any:
    """A kafka-python KafkaAdminClient (imported here with its import noise silenced)."""
    return KafkaAdminClient(bootstrap_servers=bootstrap_servers, **configs)


def _kafka_metadata_ok(bootstrap_servers: str, timeout_s: float) -> bool:
    """True if a kafka-python admin client can bootstrap and list topics."""
    timeout_ms = max(int(timeout_s * 1000), 1000)
    try:
        admin = admin_client(
            bootstrap_servers,
            client_id="fengkong-readiness-probe",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()


def new_kafka_uuid() -> str:
    """A random cluster id in Kafka's Uuid format (url-safe base64, no padding).

    Saves a JVM start (`StorageTool random-uuid`); like Kafka we avoid a leading
    '-', which command-line parsers would take for an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
