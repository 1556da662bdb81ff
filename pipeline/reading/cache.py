"""OCR results kept on disk, so that reading the same pixels again costs nothing in any process.

A review process, a ``--jobs`` worker or the next run of the CLI asks the same question about
the same pixels whenever a case is reviewed again (an upload replaced, a clerk re-running it):
the answer is kept in one SQLite file, keyed by the sha256 of the pixels and the engine's
identity (package version and settings), so a changed engine never answers from another's
results. Values are JSON, never pickles: a file anyone could write must not be able to run code.

The store is a cache: any trouble with it (locked, corrupt, full disk) is logged once and the
store is left alone for the rest of the process; a review never fails because of it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: ``PRECHECK_OCR_CACHE``: the file, or ``off``. Relative paths are taken from the working directory.
DEFAULT_PATH = "var/ocr-cache.sqlite"
#: Rows kept at most; past this the oldest quarter goes (a row is a few hundred bytes).
MAX_ROWS = 200_000


class ResultStore:
    """A key → JSON text table in SQLite, safe across processes (WAL) and threads (a lock)."""

    def __init__(self, path: Path, max_rows: int = MAX_ROWS) -> None:
        self.path = path
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._broken = False

    def get(self, key: str) -> str | None:
        row = self._run("SELECT value FROM results WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        self._run("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        self._run("DELETE FROM results", ())

    def _run(self, sql: str, args: tuple[str, ...]) -> tuple[object, ...] | None:
        with self._lock:
            if self._broken:
                return None
            try:
                conn = self._connection()
                row = conn.execute(sql, args).fetchone()
                conn.commit()
                return row
            except (sqlite3.Error, OSError) as exc:
                self._broken = True
                log.warning("OCR result store %s not used from now on in this process: %s", self.path, exc)
                return None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never a connection carried over a fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            (count,) = conn.execute("SELECT count(*) FROM results").fetchone()
            if count > self.max_rows:  # rowid grows with every insert: the lowest are the oldest
                conn.execute("DELETE FROM results WHERE rowid IN (SELECT rowid FROM results ORDER BY rowid LIMIT ?)",
                             (count - self.max_rows * 3 // 4,))
            conn.commit()
            self._conn, self._pid = conn, os.getpid()
        return self._conn


def store_from_environment() -> ResultStore | None:
    """The store ``PRECHECK_OCR_CACHE`` names (default ``var/ocr-cache.sqlite``); None when ``off``."""
    where = os.environ.get("PRECHECK_OCR_CACHE", DEFAULT_PATH).strip()
    if where.lower() in ("", "off", "none", "0"):
        return None
    return ResultStore(Path(where))
