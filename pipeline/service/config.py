"""Where the service keeps things: every setting read from the environment in one place.

| variable | default |
| --- | --- |
| ``PRECHECK_DATABASE_URL`` | ``sqlite:///var/precheck.db`` |
| ``PRECHECK_BROKER_URL`` | unset: reviews run in-process (dramatiq's StubBroker) |
| ``PRECHECK_BLOB_STORE`` | ``directory`` for SQLite, ``database`` otherwise |
| ``PRECHECK_BLOB_DIR`` | ``blobs/`` beside the SQLite file (``var/blobs``), else ``var/blobs`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE = Path("var") / "precheck.db"
DEFAULT_BLOB_DIR = Path("var") / "blobs"


@dataclass(frozen=True)
class ServiceSettings:
    database_url: str
    broker_url: str | None
    blob_store: str  # directory | database
    blob_dir: Path

    @classmethod
    def from_env(cls) -> ServiceSettings:
        url = os.environ.get("PRECHECK_DATABASE_URL") or ""
        if not url:
            DEFAULT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{DEFAULT_DATABASE}"
        blob_store = os.environ.get("PRECHECK_BLOB_STORE") or ("directory" if url.startswith("sqlite") else "database")
        if blob_store not in ("directory", "database"):
            from pipeline.errors import ConfigError

            raise ConfigError(f"PRECHECK_BLOB_STORE must be 'directory' or 'database', not {blob_store!r}")
        return cls(
            database_url=url,
            broker_url=os.environ.get("PRECHECK_BROKER_URL") or None,
            blob_store=blob_store,
            blob_dir=Path(os.environ.get("PRECHECK_BLOB_DIR") or _beside_database(url)).resolve(),
        )


def _beside_database(url: str) -> Path:
    """``blobs/`` beside a SQLite database file (``var/precheck.db`` → ``var/blobs``), so that every
    process given the same database finds the same blobs, whatever its working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix):] not in ("", ":memory:"):
        return Path(url[len(prefix):].split("?", 1)[0]).parent / "blobs"
    return DEFAULT_BLOB_DIR
