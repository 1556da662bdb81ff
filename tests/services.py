"""Throw-away PostgreSQL and Redis servers for the service tests, started once per session.

Each runs from Debian's binaries on a free loopback port in a temporary directory and is stopped
(and its directory removed) at the end. PostgreSQL refuses to run as root, so as root it runs as
the ``postgres`` user. A server that cannot start fails the tests loudly: they never skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pipeline.service.config import ServiceSettings
    from pipeline.service.store import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} not found: apt-get install postgresql (scripts/setup.sh does)"
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgres:
    port: int
    data: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://precheck@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=precheck dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), *args]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=60)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="precheck-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "precheck", "--auth=trust",
                                 "--encoding=UTF8", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    server = Postgres(port=free_port(), data=data)
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    server.ctl("-o", options, "-l", str(root / "log"), "-w", "start")
    try:
        yield server
    finally:
        server.ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Redis:
    port: int
    dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server not found: apt-get install redis-server (scripts/setup.sh does)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    root = Path(tempfile.mkdtemp(prefix="precheck-redis-"))
    server = Redis(port=free_port(), dir=root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServiceSettings:
    """Settings of an empty store: embedded SQLite + blob directory, or PostgreSQL holding both."""
    from pipeline.service.config import ServiceSettings

    if request.param == "sqlite":
        return ServiceSettings(database_url=f"sqlite:///{tmp_path / 'precheck.db'}", broker_url=None,
                               blob_store="directory", blob_dir=tmp_path / "blobs")
    server: Postgres = request.getfixturevalue("postgres")
    return ServiceSettings(database_url=server.new_database(), broker_url=None, blob_store="database",
                           blob_dir=tmp_path / "unused-blobs")


@pytest.fixture()
def store(store_settings: ServiceSettings) -> Iterator[Store]:
    from pipeline.service.store import Store

    opened = Store.open(store_settings)
    try:
        yield opened
    finally:
        opened.engine.dispose()
