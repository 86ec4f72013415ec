"""Servers someone else runs (KAFKA_BOOTSTRAP_SERVERS, FENGKONG_TEST_POSTGRES_URL): used, never stopped or restarted."""

from __future__ import annotations

from services.throwaway.common import ServiceError
from services.throwaway.postgres import create_database, database_url


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
