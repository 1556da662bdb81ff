"""The case store: cases, their uploads (every version), their reviews, all through the audit chain.

Each state change and its audit event are written in one transaction. A review is keyed by
case id + case.json hash + the current upload hashes + the rule-set sha (``review_key``): a
redelivered message finds the row its first delivery made and does not review twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from pipeline.errors import NotFound
from pipeline.intake.images import sniff
from pipeline.models import Case, OtherUse
from pipeline.service import audit
from pipeline.service.blobs import BlobStore, DatabaseBlobs, DirectoryBlobs
from pipeline.service.config import ServiceSettings
from pipeline.service.db import make_engine, upgrade
from pipeline.service.keys import ApiKey, Role
from pipeline.service.tables import cases, reviews, uploads

PAGE_SIZE = 50
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")


@dataclass(frozen=True)
class NewFile:
    slot: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class StoredUpload:
    slot: str
    version: int
    filename: str
    size: int
    detected_type: str
    sha256: str

    @property
    def extension(self) -> str:
        match = _EXTENSION.search(self.filename)
        return match.group(1).lower() if match else "bin"


@dataclass(frozen=True)
class StoredCase:
    id: str
    order_no: str
    case_json: str
    submitter_key_id: int | None
    decision: str | None
    review_key: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredReview:
    id: int
    case_id: str
    review_key: str
    state: str
    decision: str | None
    report_json: str | None
    error: str | None
    attempts: int
    worker: str


class Store:
    """One database (and its blob store), migrated when opened."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine, self.blobs = engine, blobs

    @classmethod
    def open(cls, settings: ServiceSettings | None = None) -> Store:
        settings = settings or ServiceSettings.from_env()
        engine = make_engine(settings.database_url)
        upgrade(engine)
        blobs: BlobStore = (DatabaseBlobs(engine) if settings.blob_store == "database"
                            else DirectoryBlobs(settings.blob_dir))
        return cls(engine, blobs)

    # ------------------------------------------------------------------ cases
    def submit(self, case: Case, case_json: bytes, files: list[NewFile], *, rule_set_sha256: str,
               by: ApiKey | None, actor: str) -> StoredCase:
        """Store a new case and its files, waiting for its review."""
        case_id = secrets.token_hex(16)
        now = datetime.now(UTC)
        stored = [self._keep(f) for f in files]
        text = case_json.decode("utf-8-sig")
        key = make_review_key(case_id, text, {f.slot: f.sha256 for f in stored}, rule_set_sha256)
        with self.engine.begin() as conn:
            conn.execute(insert(cases).values(
                id=case_id, order_no=case.order_no, case_json=text, review_key=key,
                submitter_key_id=by.id if by else None, created_at=now, updated_at=now))
            for f in stored:
                conn.execute(insert(uploads).values(case_id=case_id, created_at=now, **_columns(f, 1)))
            audit.append(conn, "submitted", actor=actor, case_id=case_id, payload={
                "order_no": case.order_no, "uploads": {f.slot: f.sha256 for f in stored}})
        return self.case(case_id)

    def replace_upload(self, case_id: str, file: NewFile, *, rule_set_sha256: str, actor: str) -> StoredCase:
        """Add a new version of one slot's file (the old one is kept); the case waits for a new review."""
        kept = self._keep(file)
        stored = self.case(case_id)
        with self.engine.begin() as conn:
            last = conn.execute(select(func.max(uploads.c.version))
                                .where(uploads.c.case_id == case_id, uploads.c.slot == file.slot)).scalar()
            version = (last or 0) + 1
            conn.execute(insert(uploads).values(case_id=case_id, created_at=datetime.now(UTC),
                                                **_columns(kept, version)))
            files = {u.slot: u.sha256 for u in _newest(conn, case_id).values()}
            key = make_review_key(case_id, stored.case_json, files, rule_set_sha256)
            conn.execute(update(cases).where(cases.c.id == case_id)
                         .values(decision=None, review_key=key, updated_at=datetime.now(UTC)))
            audit.append(conn, "file_replaced", actor=actor, case_id=case_id,
                         payload={"slot": file.slot, "version": version, "sha256": kept.sha256})
        return self.case(case_id)

    def _keep(self, file: NewFile) -> StoredUpload:
        sha = self.blobs.put(file.data)
        return StoredUpload(slot=file.slot, version=0, filename=file.filename[:255] or file.slot,
                            size=len(file.data), detected_type=sniff(file.data[:64]), sha256=sha)

    def case(self, case_id: str, *, visible_to: ApiKey | None = None) -> StoredCase:
        """The case, or NotFound — also for a submitter asking for another's case."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).mappings().first()
        if row is None or (visible_to is not None and visible_to.role is Role.SUBMITTER
                           and row["submitter_key_id"] != visible_to.id):
            raise NotFound(f"没有这个案件 / no case {case_id}")
        return StoredCase(**row)

    def list_cases(self, *, visible_to: ApiKey | None, decision: str | None = None,
                   page: int = 1) -> list[StoredCase]:
        query = select(cases).order_by(cases.c.created_at.desc(), cases.c.id)
        if decision == "pending":
            query = query.where(cases.c.decision.is_(None))
        elif decision:
            query = query.where(cases.c.decision == decision)
        if visible_to is not None and visible_to.role is Role.SUBMITTER:
            query = query.where(cases.c.submitter_key_id == visible_to.id)
        query = query.limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)
        with self.engine.connect() as conn:
            return [StoredCase(**row) for row in conn.execute(query).mappings()]

    def pending_case_ids(self, *, waiting_longer_than: timedelta | None = None) -> list[str]:
        """Cases waiting for the review of their current inputs (to queue again after a restart),
        or only those that have waited longer than given since they last changed."""
        query = select(cases.c.id).where(cases.c.decision.is_(None)).order_by(cases.c.created_at)
        if waiting_longer_than is not None:
            query = query.where(cases.c.updated_at < datetime.now(UTC) - waiting_longer_than)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def current_uploads(self, case_id: str) -> dict[str, StoredUpload]:
        """The newest version of each slot's file."""
        with self.engine.connect() as conn:
            return _newest(conn, case_id)

    def uses_elsewhere(self, case_id: str) -> dict[str, list[OtherUse]]:
        """For each current file of the case (by sha256), the cases of other order numbers that
        were ever sent the same bytes, in any slot and version (``upload.reused``)."""
        stored = self.case(case_id)
        shas = sorted({u.sha256 for u in self.current_uploads(case_id).values()})
        if not shas:
            return {}
        query = (select(uploads.c.sha256, cases.c.order_no, uploads.c.slot, cases.c.case_json).distinct()
                 .join(cases, cases.c.id == uploads.c.case_id)
                 .where(uploads.c.sha256.in_(shas), cases.c.order_no != stored.order_no)
                 .order_by(uploads.c.sha256, cases.c.order_no, uploads.c.slot))
        ours = _credit_code(stored.case_json)
        out: dict[str, list[OtherUse]] = {}
        with self.engine.connect() as conn:
            for sha, order_no, slot, case_json in conn.execute(query):
                use = OtherUse(order_no=order_no, slot=slot,
                               same_organisation=ours is not None and _credit_code(case_json) == ours)
                if use not in out.setdefault(sha, []):
                    out[sha].append(use)
        return out

    def write_case_folder(self, case_id: str, parent: Path) -> Path:
        """The stored case as a case folder (CONTRACT §1) under ``parent``: case.json and the
        current version of each slot's file, named ``<slot>.<extension as uploaded>``."""
        stored = self.case(case_id)
        folder = parent / case_id
        (folder / "uploads").mkdir(parents=True)
        (folder / "case.json").write_text(stored.case_json, encoding="utf-8")
        for slot, upload in self.current_uploads(case_id).items():
            (folder / "uploads" / f"{slot}.{upload.extension}").write_bytes(self.blobs.get(upload.sha256))
        return folder

    def record_event(self, kind: str, *, actor: str, case_id: str | None, payload: dict[str, Any]) -> None:
        """An audit event for a step taken outside the store (a certificate issued)."""
        with self.engine.begin() as conn:
            audit.append(conn, kind, actor=actor, case_id=case_id, payload=payload)

    def upload_history(self, case_id: str) -> list[StoredUpload]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(uploads).where(uploads.c.case_id == case_id)
                                .order_by(uploads.c.slot, uploads.c.version)).mappings()
            return [_upload(row) for row in rows]

    # ---------------------------------------------------------------- reviews
    def review(self, review_key: str) -> StoredReview | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reviews).where(reviews.c.review_key == review_key)).mappings().first()
        return None if row is None else _review(row)

    def start_review(self, case_id: str, review_key: str, rule_set_sha256: str, worker: str) -> StoredReview:
        """Claim the review row for this key (made on the first delivery, taken over on a redelivery)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            row = conn.execute(select(reviews).where(reviews.c.review_key == review_key)).mappings().first()
            if row is None:
                conn.execute(insert(reviews).values(
                    case_id=case_id, review_key=review_key, state="running", rule_set_sha256=rule_set_sha256,
                    worker=worker, attempts=1, started_at=now))
            elif row["state"] == "running":
                conn.execute(update(reviews).where(reviews.c.review_key == review_key)
                             .values(worker=worker, attempts=reviews.c.attempts + 1, started_at=now))
            if row is None or row["state"] == "running":
                audit.append(conn, "review_started", actor=worker, case_id=case_id,
                             payload={"review_key": review_key, "attempt": (row["attempts"] + 1) if row else 1})
        found = self.review(review_key)
        assert found is not None
        return found

    def finish_review(self, review_key: str, *, decision: str, report_json: str, error: str | None,
                      worker: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            row = conn.execute(select(reviews).where(reviews.c.review_key == review_key)).mappings().one()
            if row["state"] == "done":
                return
            started = row["started_at"] if row["started_at"].tzinfo else row["started_at"].replace(tzinfo=UTC)
            conn.execute(update(reviews).where(reviews.c.review_key == review_key).values(
                state="done", decision=decision, report_json=report_json, error=error, worker=worker,
                finished_at=now, duration_ms=int((now - started).total_seconds() * 1000)))
            conn.execute(update(cases).where(cases.c.id == row["case_id"], cases.c.review_key == review_key)
                         .values(decision=decision, updated_at=now))
            audit.append(conn, "review_finished", actor=worker, case_id=row["case_id"],
                         payload={"review_key": review_key, "decision": decision, "error": error})

    def current_review(self, case_id: str) -> StoredReview | None:
        """The finished review of the case's current inputs, or None while it is pending."""
        stored = self.case(case_id)
        if stored.review_key is None:
            return None
        found = self.review(stored.review_key)
        return found if found is not None and found.state == "done" else None

    def last_finished_review(self, case_id: str, *, other_than: str | None = None) -> StoredReview | None:
        """The case's newest finished review that did not end in an error (other than the review of
        key ``other_than``): what a re-review after a replaced file may take findings over from."""
        query = select(reviews).where(reviews.c.case_id == case_id, reviews.c.state == "done",
                                      reviews.c.error.is_(None))
        if other_than is not None:
            query = query.where(reviews.c.review_key != other_than)
        query = query.order_by(reviews.c.finished_at.desc(), reviews.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _review(row)

    def reviews_of(self, case_id: str) -> list[StoredReview]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(reviews).where(reviews.c.case_id == case_id).order_by(reviews.c.id))
            return [_review(row) for row in rows.mappings()]


def make_review_key(case_id: str, case_json: str, files: dict[str, str], rule_set_sha256: str) -> str:
    """What makes two reviews the same: the case, its data, its current files, the rules."""
    material = json.dumps({"case": case_id, "data": hashlib.sha256(case_json.encode()).hexdigest(),
                           "uploads": files, "rules": rule_set_sha256}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _credit_code(case_json: str) -> str | None:
    """The organisation's credit code a stored case was entered with (the case.json as sent)."""
    try:
        org = json.loads(case_json).get("org", {})
    except (ValueError, AttributeError):
        return None
    number = org.get("id_number") if isinstance(org, dict) else None
    return number.strip().upper() if isinstance(number, str) else None


def _newest(conn: Connection, case_id: str) -> dict[str, StoredUpload]:
    rows = conn.execute(select(uploads).where(uploads.c.case_id == case_id)
                        .order_by(uploads.c.slot, uploads.c.version)).mappings()
    return {row["slot"]: _upload(row) for row in rows}


def _columns(f: StoredUpload, version: int) -> dict[str, Any]:
    return {"slot": f.slot, "version": version, "filename": f.filename, "size": f.size,
            "detected_type": f.detected_type, "sha256": f.sha256}


def _upload(row: Any) -> StoredUpload:
    return StoredUpload(slot=row["slot"], version=row["version"], filename=row["filename"], size=row["size"],
                        detected_type=row["detected_type"], sha256=row["sha256"])


def _review(row: Any) -> StoredReview:
    return StoredReview(id=row["id"], case_id=row["case_id"], review_key=row["review_key"], state=row["state"],
                        decision=row["decision"], report_json=row["report_json"], error=row["error"],
                        attempts=row["attempts"], worker=row["worker"])
