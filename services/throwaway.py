"""Real Apache Kafka (KRaft) and PostgreSQL server processes for the test suite.

The engine is event-sourced on Kafka and PostgreSQL, and mocks would hide the
behaviours we care about (rebalances, restarts, durability), so tests run
against real servers started as plain child processes: no Docker needed.

Besides the standard library it needs only the project's own clients:
kafka-python (readiness probe) and psycopg (database helpers).
"""

from __future__ import annotations

import atexit
import base64
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas with importlib.resources.read_text/open_text,
    # deprecated since 3.11: 200+ DeprecationWarnings per session otherwise.
    warnings.filterwarnings("ignore", r"(read_text|open_text) is deprecated", DeprecationWarning)
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

KEEP_ENV = "FENGKONG_KEEP_SERVICES"
"""Set to 1 to keep the servers' temp dirs (data and logs) after the run."""

REPO_ROOT = Path(__file__).resolve().parents[1]
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


def keep_services() -> bool:
    """Whether FENGKONG_KEEP_SERVICES asks to keep data dirs for post-mortems."""
    return os.environ.get(KEEP_ENV, "") not in ("", "0", "false", "no")


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


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, trust auth, user postgres.

    PostgreSQL refuses to run as root, so as root every server command runs as
    the `postgres` system user through `runuser`. Port and data survive
    `stop()`/`start()`/`restart()`/`kill()`; `close()` is the final stop and
    removes the temp dir (unless FENGKONG_KEEP_SERVICES=1).
    """

    def __init__(
        self,
        bin_dir: Path = DEFAULT_PG_BIN,
        *,
        os_user: str = "postgres",
        start_timeout: float = 60.0,
    ) -> None:
        self.bin_dir = Path(bin_dir)
        self.os_user = os_user
        self.start_timeout = start_timeout
        self.work_dir: Path | None = None
        self.port = 0
        self._closed = False
        atexit.register(self.close)

    @property
    def url(self) -> str:
        """libpq URL of the `postgres` database as superuser `postgres`."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """libpq URL of database `name` on this server."""
        if not self.port:
            raise ServiceError("PostgresServer has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def data_dir(self) -> Path:
        """The cluster's PGDATA."""
        if self.work_dir is None:
            raise ServiceError("PostgresServer has not been started")
        return self.work_dir / "data"

    @property
    def log_path(self) -> Path:
        """Server log written by pg_ctl -l."""
        return self.data_dir.parent / "postgres.log"

    @property
    def running(self) -> bool:
        """True while a postmaster is running on our data dir."""
        if self.work_dir is None:
            return False
        return self._pg_ctl("status").returncode == 0

    def start(self) -> None:
        """Create the cluster on first use, then start it and wait until it accepts connections."""
        if self._closed:
            raise ServiceError("PostgresServer was closed")
        if self.work_dir is None:
            self._init_cluster()
        elif self.running:
            return
        result = self._pg_ctl("start", "-w", "-t", str(int(self.start_timeout)), "-l", str(self.log_path))
        if result.returncode != 0:
            raise ServiceError(
                f"pg_ctl start failed ({result.returncode}): {result.stdout}{result.stderr}\n"
                f"log {self.log_path} {KEEP_HINT}:\n{log_tail(self.log_path)}"
            )
        self._wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (pg_ctl stop -m fast by default); keeps port and data."""
        if not self.running:
            return
        result = self._pg_ctl("stop", "-w", "-m", mode, "-t", "60")
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl stop -m {mode} failed: {result.stdout}{result.stderr}")

    def kill(self) -> None:
        """Immediate shutdown, like a crash: the next start runs crash recovery."""
        self.stop(mode="immediate")

    def restart(self) -> None:
        """Stop and start again on the same port and data dir."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Final stop: stop the server and remove its temp dir unless asked to keep it."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            atexit.unregister(self.close)
            if self.work_dir is not None and not keep_services():
                shutil.rmtree(self.work_dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL, so tests can be isolated."""
        return create_database(self.url, name)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _as_user(self, cmd: list[str]) -> list[str]:
        """Prefix with runuser when root, because postgres refuses to run as root."""
        if os.geteuid() == 0:
            return ["runuser", "-u", self.os_user, "--", *cmd]
        return cmd

    def _run(self, cmd: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_user(cmd),
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.work_dir,  # runuser keeps cwd; it must be readable by postgres
            timeout=timeout,
        )

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args])

    def _init_cluster(self) -> None:
        """initdb into a fresh temp dir with fast, test-friendly settings."""
        work_dir = Path(tempfile.mkdtemp(prefix="fengkong-pg-"))
        self.work_dir = work_dir
        if os.geteuid() == 0:
            user = pwd.getpwnam(self.os_user)
            os.chown(work_dir, user.pw_uid, user.pw_gid)
        self.port = free_ports(1)[0]
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        # Settings go in postgresql.conf (not pg_ctl -o) so a restart keeps the same port.
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{work_dir}'",
            "max_connections": "100",
            "shared_buffers": "128MB",
            # Speed without lying to tests: fsync/full_page_writes only matter if the
            # OS crashes. synchronous_commit stays on, so kill() keeps committed rows.
            "fsync": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# fengkong test settings\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())

    def _wait_ready(self) -> None:
        """pg_ctl -w already waited; pg_isready confirms the TCP listener too."""
        deadline = time.monotonic() + self.start_timeout
        cmd = [
            str(self.bin_dir / "pg_isready"),
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
        ]
        while subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise ServiceError(f"PostgreSQL not ready on port {self.port}:\n{log_tail(self.log_path)}")
            time.sleep(0.1)


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the same server as `server_url`."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE `name` via `server_url` and return the new database's URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """DROP DATABASE `name` (forcing off leftover connections); a no-op if it is gone."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class ExternalService:
    """A service given by an environment variable: usable, but not ours to stop or restart."""

    what = "service"
    variable = ""

    def _refuse(self, action: str) -> None:
        raise ServiceError(
            f"cannot {action} the external {self.what} ({self.variable} is set); "
            "unset it to let the tests run their own"
        )

    def start(self) -> None:
        """Nothing to do: the service is managed elsewhere."""

    def stop(self) -> None:
        """Refuse: stopping someone else's service is out of bounds."""
        self._refuse("stop")

    def kill(self) -> None:
        """Refuse: killing someone else's service is out of bounds."""
        self._refuse("kill")

    def restart(self) -> None:
        """Refuse: restart tests need a service this process controls."""
        self._refuse("restart")

    def close(self) -> None:
        """Nothing to do: the service outlives the test session."""


class ExternalKafka(ExternalService):
    variable = "KAFKA_BOOTSTRAP_SERVERS"

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.what = f"Kafka broker at {bootstrap_servers}"


class ExternalPostgres(ExternalService):
    what = "PostgreSQL server"
    variable = "FENGKONG_TEST_POSTGRES_URL"

    def __init__(self, url: str) -> None:
        self.url = url

    def database_url(self, name: str) -> str:
        """URL of database `name` on the external server."""
        return database_url(self.url, name)

    def create_database(self, name: str) -> str:
        """Create database `name` and return its URL."""
        return create_database(self.url, name)
