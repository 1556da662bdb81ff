"""The case store's tables (SQLAlchemy Core, one ``MetaData``); Alembic migrations in
``migrations/`` create and change them — the issuance register's too (``pipeline.issuance.register``
writes them; migration 0004 makes them append-only).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # submitter | clerk | auditor | admin
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 of the key; the key is never kept
    Column("created_at", DateTime(timezone=True), nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("id", String(32), primary_key=True),  # random hex, the case id of the API
    Column("order_no", String(32), nullable=False, index=True),
    Column("case_json", Text, nullable=False),  # exactly the bytes the applicant sent, as UTF-8
    Column("submitter_key_id", Integer, ForeignKey("api_keys.id"), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the state of the latest review of the current inputs; rows of `reviews` hold the history
    Column("decision", String(16), index=True),  # null while pending
    Column("review_key", String(64)),  # the idempotency key the case waits for
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

uploads = Table(
    "uploads", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    Column("slot", String(64), nullable=False),
    Column("version", Integer, nullable=False),  # 1 for the first file, +1 per replacement
    Column("filename", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("detected_type", String(16), nullable=False),  # by the magic bytes: jpeg, png, pdf, … or unknown
    Column("sha256", String(64), nullable=False, index=True),  # index: the same file in other cases
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "slot", "version", name="uq_uploads_case_slot_version"),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    # case id + upload hashes + case.json hash + rule-set sha: a redelivered message finds its row
    Column("review_key", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # running | done
    Column("decision", String(16)),
    Column("report_json", Text),
    Column("error", Text),  # the last error of a review that kept failing (decision needs_review)
    Column("rule_set_sha256", String(64), nullable=False),
    Column("worker", String(128), nullable=False),  # host:pid of the last worker that ran it
    Column("attempts", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("duration_ms", Integer),
)

blobs = Table(
    "blobs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),  # ISO 8601 UTC, hashed as written
    Column("kind", String(32), nullable=False),
    Column("case_id", String(32), index=True),
    Column("actor", String(128), nullable=False),
    Column("payload", Text, nullable=False),  # canonical JSON
    # unique: two writers that read the same head cannot both append after it
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
)

#: The chain's head, written in the same transaction as every event: removing the newest events
#: (which leaves a shorter chain that links perfectly) no longer goes unseen.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("last_id", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # clerk | auditor | admin
    Column("password_hash", String(256), nullable=False),  # argon2id, the password itself is never kept
    Column("created_at", DateTime(timezone=True), nullable=False),
)

case_actions = Table(
    "case_actions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    # the inputs the action was taken on: a new upload (a new review key) re-opens the case
    Column("review_key", String(64), nullable=False),
    Column("action", String(24), nullable=False),  # approved | rejected | upload_requested
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),  # the clerk's reason, or the message sent to the applicant
    Column("slots", Text, nullable=False),  # JSON list: the slots asked for again
    Column("at", DateTime(timezone=True), nullable=False),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(160), nullable=False, index=True),  # "name:<user name>" or "address:<ip>"
    Column("at", DateTime(timezone=True), nullable=False),
)


# ------------------------------------------------------------- the issuance register (migration 0004)
# Append-only: the database refuses UPDATE and DELETE on both (SQLite triggers; on PostgreSQL a trigger
# function, which refuses TRUNCATE too). Every row is also an audit event, written in the same transaction.

issuance_events = Table(
    "issuance_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_no", String(32), nullable=False, index=True),
    Column("event", String(16), nullable=False),  # prepared | certified | completed
    Column("case_ref", String(1024)),  # the case folder, or the store's case id
    Column("key_type", String(8)),
    Column("token_serial", String(64)),
    Column("key_id", String(128)),
    Column("serial", String(64)),  # certificate serial, upper-case hex
    Column("fingerprint", String(64)),  # SHA-256 of the certificate DER, hex
    Column("certificate_der", LargeBinary),
    Column("sealed_so_pin", LargeBinary),  # sealed by the CA token's AES key, never clear
    Column("at", DateTime(timezone=True), nullable=False),
)

case_decisions = Table(
    "case_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_no", String(32), nullable=False, index=True),
    Column("decision", String(16), nullable=False),  # approved | rejected | needs_review
    Column("source", String(16), nullable=False),  # clerk | review
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("case_digest", String(64), nullable=False),
    Column("rule_set_sha256", String(64)),
    Column("report_json", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: The register's tables, which the database keeps append-only.
APPEND_ONLY = (issuance_events, case_decisions)
