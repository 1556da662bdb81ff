"""What clerks do with a case in the console — approve, reject with a message to the applicant, ask
for new uploads — and the work queue those actions empty.

An action is tied to the case's review key (its data, current files and rules): a new upload
makes a new key, so the case is reviewed again and, when a person is needed, back in the queue.
Each action and its audit event are written in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, select

from pipeline.errors import Conflict
from pipeline.report import BEIJING
from pipeline.service import audit
from pipeline.service.store import Store, StoredCase
from pipeline.service.tables import audit_events, case_actions, cases, reviews, uploads

#: a review's decision that needs a person: uncertain findings, or a rejection to send the applicant
OPEN_DECISIONS = ("needs_review", "rejected")
ACTIONS = ("approved", "rejected", "upload_requested")


@dataclass(frozen=True)
class CaseAction:
    id: int
    case_id: str
    review_key: str
    action: str
    actor: str
    reason: str
    slots: list[str]
    at: datetime


@dataclass(frozen=True)
class QueueFilter:
    decision: str | None = None  # needs_review | rejected
    since: date | None = None  # submitted on or after (a day in Beijing, the office's clock)
    until: date | None = None  # submitted on or before


def record_action(store: Store, case: StoredCase, action: str, *, actor: str, reason: str,
                  slots: list[str] | None = None) -> CaseAction:
    assert action in ACTIONS, action
    assert case.review_key is not None
    now = datetime.now(UTC)
    slots = sorted(slots or [])
    with store.engine.begin() as conn:
        # one action per review key: writers are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: the audit
        # chain's lock, taken here first), so of two clerks acting at once the second is refused
        audit.lock(conn)
        current = conn.execute(select(cases.c.review_key).where(cases.c.id == case.id)).scalar()
        taken = conn.execute(select(case_actions.c.id).where(case_actions.c.case_id == case.id,
                                                             case_actions.c.review_key == case.review_key)).first()
        if current != case.review_key or taken is not None:
            raise Conflict("该案件已被他人处理或已有新的上传，请刷新页面 / "
                           "the case changed or someone acted on it first")
        result = conn.execute(insert(case_actions).values(
            case_id=case.id, review_key=case.review_key, action=action, actor=actor, reason=reason,
            slots=json.dumps(slots), at=now))
        action_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        audit.append(conn, f"clerk_{action}", actor=actor, case_id=case.id, payload={
            "order_no": case.order_no, "review_key": case.review_key, "reason": reason, "slots": slots})
    return CaseAction(action_id, case.id, case.review_key, action, actor, reason, slots, now)


def actions_of(store: Store, case_id: str) -> list[CaseAction]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(case_actions).where(case_actions.c.case_id == case_id)
                            .order_by(case_actions.c.id)).mappings()
        return [_action(r) for r in rows]


def current_action(store: Store, case: StoredCase) -> CaseAction | None:
    """The latest action taken on the case's current inputs (None: nobody has acted on them)."""
    found = [a for a in actions_of(store, case.id) if a.review_key == case.review_key]
    return found[-1] if found else None


def open_cases(store: Store, flt: QueueFilter, limit: int = 500) -> list[StoredCase]:
    """Reviewed cases a person must act on and nobody has yet, oldest first."""
    acted = exists().where(and_(case_actions.c.case_id == cases.c.id,
                                case_actions.c.review_key == cases.c.review_key))
    query = select(cases).where(cases.c.decision.in_(OPEN_DECISIONS), ~acted)
    if flt.decision in OPEN_DECISIONS:
        query = query.where(cases.c.decision == flt.decision)
    # a day in Beijing as its bounds in UTC, as the times are stored (SQLite keeps a time's wall
    # clock and drops its zone: a Beijing midnight compared as written is eight hours off)
    if flt.since is not None:
        query = query.where(cases.c.created_at >= datetime.combine(flt.since, time(), BEIJING).astimezone(UTC))
    if flt.until is not None:
        until = datetime.combine(flt.until + timedelta(days=1), time(), BEIJING).astimezone(UTC)
        query = query.where(cases.c.created_at < until)
    query = query.order_by(cases.c.created_at, cases.c.id).limit(limit)
    with store.engine.connect() as conn:
        found = [StoredCase(**row) for row in conn.execute(query).mappings()]
    return [c for c in found if not waiting_for(store, c.id)]


def waiting_for(store: Store, case_id: str) -> list[str]:
    """The slots a clerk asked to be uploaded again that have no new version since she asked: the
    case waits for those (a new file in another slot is reviewed, but does not re-open it)."""
    asked = [a for a in actions_of(store, case_id) if a.action == "upload_requested"]
    if not asked:
        return []
    last = asked[-1]
    with store.engine.connect() as conn:
        rows = conn.execute(select(uploads.c.slot, uploads.c.created_at).where(uploads.c.case_id == case_id)).all()
    renewed = {slot for slot, at in rows if (at if at.tzinfo else at.replace(tzinfo=UTC)) > last.at}
    return [s for s in last.slots if s not in renewed]


def state_counts(store: Store) -> dict[str, int]:
    """How many cases are in each state: by the review's decision (pending, approved, rejected,
    needs_review), by the clerks' action on their current inputs, how many wait for a new upload, and
    how many wait for a person (``open_needs_review``, ``open_rejected``: the queue)."""
    with store.engine.connect() as conn:
        by_decision: dict[str, int] = {
            decision or "pending": n
            for decision, n in conn.execute(select(cases.c.decision, func.count()).group_by(cases.c.decision))}
        latest = (select(case_actions.c.action, func.count()).join(cases, and_(
            cases.c.id == case_actions.c.case_id, cases.c.review_key == case_actions.c.review_key))
            .group_by(case_actions.c.action))
        acted: dict[str, int] = dict(conn.execute(latest).all())
    counts = {k: int(by_decision.get(k, 0)) for k in ("pending", "approved", "rejected", "needs_review")}
    counts.update({f"clerk_{k}": int(acted.get(k, 0)) for k in ACTIONS})
    with store.engine.connect() as conn:
        asked = list(conn.execute(select(case_actions.c.case_id).where(case_actions.c.action == "upload_requested")
                                  .distinct()).scalars())
    counts["clerk_upload_requested"] = sum(1 for case_id in asked if waiting_for(store, case_id))
    waiting = open_cases(store, QueueFilter(), limit=100_000)
    for decision in OPEN_DECISIONS:
        counts[f"open_{decision}"] = sum(1 for c in waiting if c.decision == decision)
    return counts


def case_events(store: Store, case: StoredCase) -> list[dict[str, Any]]:
    """Every audit event about the case, in chain order: those naming it (its own, decisions taken in the
    console) and the register's events that name only its order number (``precheck approve`` on a folder,
    issuance steps)."""
    order = f'"order_no":"{case.order_no}"'
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_events).where(
            (audit_events.c.case_id == case.id)
            | (audit_events.c.case_id.is_(None) & audit_events.c.payload.contains(order)))
            .order_by(audit_events.c.id)).mappings()
        return [{"id": r["id"], "at": r["at"], "kind": r["kind"], "actor": r["actor"],
                 "payload": json.loads(r["payload"]), "hash": r["hash"]} for r in rows]


def review_rows(store: Store, since: datetime | None = None) -> list[dict[str, Any]]:
    """Finished reviews (decision, report, when and how long) for the statistics."""
    query = select(reviews.c.case_id, reviews.c.decision, reviews.c.report_json, reviews.c.finished_at,
                   reviews.c.duration_ms).where(reviews.c.state == "done")
    if since is not None:
        query = query.where(reviews.c.finished_at >= since)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(reviews.c.id)).mappings()]


def all_actions(store: Store) -> list[CaseAction]:
    with store.engine.connect() as conn:
        return [_action(r) for r in conn.execute(select(case_actions).order_by(case_actions.c.id)).mappings()]


def _action(row: Any) -> CaseAction:
    at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
    return CaseAction(row["id"], row["case_id"], row["review_key"], row["action"], row["actor"], row["reason"],
                      json.loads(row["slots"]), at)
