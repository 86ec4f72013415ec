"""A throwaway PostgreSQL 15 cluster in a temp folder, run as the `postgres` user (it refuses root)."""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from services.throwaway.common import DEFAULT_PG_BIN, KEEP_HINT, ServiceError, free_ports, keep_services, log_tail


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
