"""Uploaded bytes kept exactly as uploaded, addressed by their sha256, never overwritten.

Two real backends behind one small interface: a local directory (the embedded default) and a
database table (production, PostgreSQL: workers on several machines share it without a shared
disk). Writing the same bytes twice stores them once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from pipeline.errors import NotFound
from pipeline.service.tables import blobs

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Keep ``data``; return its sha256 (hex)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``; raise NotFound when there are none."""
        ...

    def has(self, sha256: str) -> bool: ...


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DirectoryBlobs:
    """``<root>/ab/cd/<sha256>``, each written to a temporary file, flushed to disk, then linked
    into place: a reader sees the whole file or none, and an existing file is never replaced."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound(f"no blob {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        sha = digest(data)
        path = self._path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # never overwrite: the name exists, same bytes
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {sha256}") from None

    def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()


class DatabaseBlobs:
    """The ``blobs`` table of the store's database: one row per distinct content."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, data: bytes) -> str:
        sha = digest(data)
        if self.has(sha):
            return sha
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(blobs).values(sha256=sha, size=len(data), data=data))
        except IntegrityError:  # another writer stored the same bytes first
            pass
        return sha

    def get(self, sha256: str) -> bytes:
        with self.engine.connect() as conn:
            data = conn.execute(select(blobs.c.data).where(blobs.c.sha256 == sha256)).scalar()
        if data is None:
            raise NotFound(f"no blob {sha256}")
        return bytes(data)

    def has(self, sha256: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(blobs.c.size).where(blobs.c.sha256 == sha256)).first() is not None
