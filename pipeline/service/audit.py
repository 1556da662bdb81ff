"""The audit trail: append-only events, each carrying the hash of the one before.

An event's hash is the sha256 of the previous hash and the event's canonical JSON (id, time,
kind, case, actor, payload). Changing any stored field breaks that event's hash; removing an
event breaks the link of the one after it. ``prev_hash`` is unique, so two writers that read
the same head cannot both append after it (the loser's transaction fails and is retried).
Appends happen inside the caller's transaction, so a state change and its event are stored
together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update

from pipeline.service.tables import audit_events, audit_head

GENESIS = "0" * 64
#: arbitrary constant: the PostgreSQL advisory lock that serialises appends
_PG_LOCK = 0x70726563


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, event_id: int, at: str, kind: str, case_id: str | None, actor: str,
               payload: str) -> str:
    body = canonical({"id": event_id, "at": at, "kind": kind, "case_id": case_id, "actor": actor,
                      "payload": payload})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def lock(conn: Connection) -> None:
    """Hold the chain's write lock until ``conn``'s transaction ends (PostgreSQL; SQLite's BEGIN IMMEDIATE
    already holds the database's). Taking it again in the same transaction is free."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})


def append(conn: Connection, kind: str, *, actor: str, case_id: str | None = None,
           payload: dict[str, Any] | None = None) -> int:
    """Append one event in ``conn``'s transaction; return its id."""
    lock(conn)
    head = conn.execute(select(audit_events.c.id, audit_events.c.hash)
                        .order_by(audit_events.c.id.desc()).limit(1)).first()
    prev_hash = head.hash if head else GENESIS
    event_id = (head.id if head else 0) + 1
    at = datetime.now(UTC).isoformat()
    body = canonical(payload or {})
    new_hash = event_hash(prev_hash, event_id, at, kind, case_id, actor, body)
    conn.execute(insert(audit_events).values(
        id=event_id, at=at, kind=kind, case_id=case_id, actor=actor, payload=body, prev_hash=prev_hash,
        hash=new_hash))
    moved = conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_id=event_id, last_hash=new_hash))
    if moved.rowcount == 0:
        conn.execute(insert(audit_head).values(id=1, last_id=event_id, last_hash=new_hash))
    return event_id


@dataclass(frozen=True)
class Verdict:
    intact: bool
    events: int
    first_bad: int | None = None  # id of the first event changed, or the one after a removed event
    problem: str = ""


def verify(engine: Engine) -> Verdict:
    """Walk the chain from its start; name the first event that was changed or removed."""
    prev_hash, expected_id, count = GENESIS, 1, 0
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.id)).mappings()
        for row in rows:
            count += 1
            if row["id"] != expected_id:
                return Verdict(False, count, expected_id,
                               f"event {expected_id} was removed (the next event stored is {row['id']})")
            if row["prev_hash"] != prev_hash:
                return Verdict(False, count, row["id"] - 1,
                               f"event {row['id'] - 1} was changed (event {row['id']} no longer links to it)")
            recomputed = event_hash(prev_hash, row["id"], row["at"], row["kind"], row["case_id"], row["actor"],
                                    row["payload"])
            if recomputed != row["hash"]:
                return Verdict(False, count, row["id"], f"event {row['id']} ({row['kind']}) was changed")
            prev_hash, expected_id = row["hash"], row["id"] + 1
        head = conn.execute(select(audit_head.c.last_id, audit_head.c.last_hash)
                            .where(audit_head.c.id == 1)).first()
    last = expected_id - 1
    if head is None:
        if count:
            return Verdict(False, count, None, "the chain's head record is missing")
        return Verdict(True, count)
    if head.last_id > last:
        return Verdict(False, count, last + 1,
                       f"event {last + 1} was removed (the chain's head names event {head.last_id}, "
                       f"the newest stored is {last})")
    if head.last_id < last or head.last_hash != prev_hash:
        return Verdict(False, count, head.last_id + 1 if head.last_id < last else last,
                       f"the chain's head names event {head.last_id}, the newest stored is {last}: "
                       "events were written or changed outside the chain's writer")
    return Verdict(True, count)
