"""The issuance register and the recorded decisions, in the case store's database.

Their tables (``issuance_events``, ``case_decisions``) are the store's, made by its Alembic
migrations (0004), which also make them append-only: the database refuses UPDATE and DELETE (SQLite
triggers; PostgreSQL a trigger function). Every row added is also an event of the store's audit chain
(``pipeline.service.audit``), in the same transaction. The current state of an order is read from
its rows in order, so an auditor can replay every step. Opening a :class:`Register` migrates the
database to the newest schema. ``PRECHECK_DATABASE_URL`` chooses the database; the default is
``var/precheck.db``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from sqlalchemy import Engine, Table, insert, select

from pipeline.service import audit
from pipeline.service.db import make_engine, upgrade
from pipeline.service.tables import case_decisions, issuance_events
from tokens import JournalEntry, KeySpec

DEFAULT_DATABASE = Path("var") / "precheck.db"

#: the columns of a register row that its audit event repeats
_AUDITED = ("order_no", "decision", "source", "actor", "reason", "case_digest", "rule_set_sha256", "event",
            "case_ref", "key_type", "token_serial", "serial", "fingerprint")


@dataclass(frozen=True)
class RecordedDecision:
    order_no: str
    decision: str
    source: str
    actor: str
    reason: str
    case_digest: str
    at: datetime


@dataclass(frozen=True)
class IssuanceRecord:
    """What the register holds for an order's issued certificate."""

    order_no: str
    token_serial: str
    serial: str
    fingerprint: str
    certificate_der: bytes
    completed: bool


def database_url() -> str:
    url = os.environ.get("PRECHECK_DATABASE_URL")
    if url:
        return url
    DEFAULT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DATABASE}"


class Register:
    """Issuance steps and recorded decisions; implements the token issuer's journal per case."""

    def __init__(self, engine: Engine | str | None = None) -> None:
        # the store's engine settings: on SQLite a transaction takes the write lock when it begins,
        # so reading the audit head and appending after it cannot be overtaken by `precheck serve`
        self.engine = make_engine(engine or database_url()) if not isinstance(engine, Engine) else engine
        upgrade(self.engine)  # the store's schema: the register's tables and the audit chain that records each row

    # --------------------------------------------------------------- decisions
    def record_decision(self, order_no: str, decision: str, *, source: str, actor: str, case_digest: str,
                        reason: str = "", rule_set_sha256: str | None = None,
                        report_json: str | None = None, case_id: str | None = None) -> None:
        """``case_id``: the review service's case, when the decision was taken on one (its audit event names it)."""
        self._insert(case_decisions, order_no=order_no, decision=decision, source=source, actor=actor,
                     reason=reason, case_digest=case_digest, rule_set_sha256=rule_set_sha256,
                     report_json=report_json, audit_case_id=case_id)

    def current_decision(self, order_no: str, case_digest: str) -> RecordedDecision | None:
        """The latest decision recorded for this order *as it is now* (same digest)."""
        query = (select(case_decisions).where(case_decisions.c.order_no == order_no,
                                              case_decisions.c.case_digest == case_digest)
                 .order_by(case_decisions.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return RecordedDecision(order_no=row["order_no"], decision=row["decision"], source=row["source"],
                                actor=row["actor"], reason=row["reason"], case_digest=row["case_digest"],
                                at=row["at"])

    # ---------------------------------------------------------------- issuance
    def issued(self, order_no: str) -> IssuanceRecord | None:
        rows = self._events(order_no)
        certified = [r for r in rows if r["event"] in ("certified", "completed") and r["certificate_der"]]
        if not certified:
            return None
        last = certified[-1]
        return IssuanceRecord(order_no=order_no, token_serial=last["token_serial"], serial=last["serial"],
                              fingerprint=last["fingerprint"], certificate_der=last["certificate_der"],
                              completed=any(r["event"] == "completed" for r in rows))

    def journal(self, case_ref: str) -> CaseJournal:
        return CaseJournal(self, case_ref)

    def _events(self, order_no: str) -> list[Any]:
        query = (select(issuance_events).where(issuance_events.c.order_no == order_no)
                 .order_by(issuance_events.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(query).mappings())

    def _insert(self, table: Table, audit_case_id: str | None = None, **values: Any) -> None:
        """Add a row and its audit event in one transaction (the event names what was done, never
        the sealed PIN or the certificate itself: its serial and fingerprint identify it)."""
        shown = {k: v for k, v in values.items() if k in _AUDITED and v is not None}
        kind = f"decision_{values['decision']}" if table is case_decisions else f"issuance_{values['event']}"
        actor = str(values.get("actor") or "precheck issue")
        with self.engine.begin() as conn:
            conn.execute(insert(table).values(at=datetime.now(UTC), **values))
            audit.append(conn, kind, actor=actor, case_id=audit_case_id, payload=shown)


class CaseJournal:
    """The register seen by :class:`tokens.Issuer` for one case: label = order number."""

    def __init__(self, register: Register, case_ref: str) -> None:
        self.register, self.case_ref = register, case_ref

    def entry(self, label: str) -> JournalEntry | None:
        rows = self.register._events(label)
        prepared = [r for r in rows if r["event"] == "prepared"]
        if not prepared:
            return None
        record = self.register.issued(label)
        return JournalEntry(label=label, sealed_so_pin=prepared[-1]["sealed_so_pin"],
                            token_serial=record.token_serial if record else None,
                            certificate_der=record.certificate_der if record else None,
                            completed=bool(record and record.completed))

    def token_prepared(self, label: str, sealed_so_pin: bytes, key: KeySpec) -> None:
        self._add(label, "prepared", sealed_so_pin=sealed_so_pin, key_type=str(key))

    def certificate_issued(self, label: str, token_serial: str, key_id: bytes, certificate_der: bytes) -> None:
        self._add(label, "certified", token_serial=token_serial, key_id=key_id.hex(),
                  **_certificate_columns(certificate_der))

    def completed(self, label: str, token_serial: str, certificate_der: bytes) -> None:
        self._add(label, "completed", token_serial=token_serial, **_certificate_columns(certificate_der))

    def _add(self, label: str, kind: str, **values: Any) -> None:
        self.register._insert(issuance_events, order_no=label, event=kind, case_ref=self.case_ref, **values)


def certificate_serial(der: bytes) -> str:
    return format(asn1_x509.Certificate.load(der).serial_number, "X")


def certificate_fingerprint(der: bytes) -> str:
    return asn1_x509.Certificate.load(der).sha256.hex()


def _certificate_columns(der: bytes) -> dict[str, Any]:
    return {"certificate_der": der, "serial": certificate_serial(der), "fingerprint": certificate_fingerprint(der)}

