"""The case store, its blobs and its audit chain — each test on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, update

from pipeline.casefolder import parse_case_json
from pipeline.errors import NotFound
from pipeline.models import OtherUse
from pipeline.service import audit
from pipeline.service.blobs import DirectoryBlobs
from pipeline.service.keys import Role, create_key, find_key
from pipeline.service.store import NewFile, Store
from pipeline.service.tables import audit_events
from tests.casedata import case_dict, make_uscc

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
PDF = b"%PDF-1.4\n%fake\n"
RULES = "r" * 64


def submit(store: Store, files: dict[str, bytes] | None = None, by: object = None, order_no: str | None = None,
           **changes: object) -> str:
    raw = json.dumps(case_dict(**({"order_no": order_no} if order_no else {}), **changes), ensure_ascii=False).encode()
    files = files if files is not None else {"application_form": PDF, "org_license": PNG}
    stored = store.submit(parse_case_json(raw), raw, [NewFile(s, f"{s}.{'pdf' if d == PDF else 'png'}", d)
                                                     for s, d in files.items()],
                          rule_set_sha256=RULES, by=by, actor="test")  # type: ignore[arg-type]
    return stored.id


def test_the_migrated_schema_has_every_table_of_the_store(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"cases", "uploads", "reviews", "blobs", "audit_events", "api_keys", "users", "case_actions",
            "login_failures", "issuance_events", "case_decisions", "alembic_version"} <= names


def test_a_submitted_case_keeps_its_data_and_files_exactly(store: Store) -> None:
    case_id = submit(store)
    stored = store.case(case_id)
    assert json.loads(stored.case_json) == case_dict()
    assert stored.decision is None and stored.review_key
    current = store.current_uploads(case_id)
    assert set(current) == {"application_form", "org_license"}
    assert current["org_license"].detected_type == "png" and current["org_license"].size == len(PNG)
    assert store.blobs.get(current["application_form"].sha256) == PDF


def test_replacing_a_file_adds_a_version_keeps_the_old_one_and_changes_the_review_key(store: Store) -> None:
    case_id = submit(store)
    before = store.case(case_id).review_key
    new_pdf = PDF + b"v2"
    after = store.replace_upload(case_id, NewFile("application_form", "form.pdf", new_pdf), rule_set_sha256=RULES,
                                 actor="test")
    history = [u for u in store.upload_history(case_id) if u.slot == "application_form"]
    assert [u.version for u in history] == [1, 2]
    assert store.blobs.get(history[0].sha256) == PDF and store.blobs.get(history[1].sha256) == new_pdf
    assert after.review_key != before


def test_a_review_claimed_twice_is_one_row_and_a_finished_one_is_the_current_review(store: Store) -> None:
    case_id = submit(store)
    key = store.case(case_id).review_key
    assert key is not None
    store.start_review(case_id, key, RULES, "w1")
    store.start_review(case_id, key, RULES, "w2")  # a redelivery after w1 died
    assert store.current_review(case_id) is None
    store.finish_review(key, decision="approved", report_json="{}", error=None, worker="w2")
    store.finish_review(key, decision="rejected", report_json="{}", error=None, worker="w3")  # late duplicate
    reviews = store.reviews_of(case_id)
    assert len(reviews) == 1 and reviews[0].attempts == 2 and reviews[0].decision == "approved"
    current = store.current_review(case_id)
    assert current is not None and current.worker == "w2"
    assert store.case(case_id).decision == "approved"
    assert [c.id for c in store.list_cases(visible_to=None, decision="approved")] == [case_id]


def test_a_file_sent_in_another_orders_case_is_found_there_and_not_in_the_same_orders(store: Store) -> None:
    licence, other_png = PNG + b"licence", PNG + b"other"
    first = submit(store, {"application_form": PDF, "org_license": licence}, order_no="00202612010000001")
    again = submit(store, {"application_form": PDF, "org_license": other_png}, order_no="00202612010000001")
    second = submit(store, {"application_form": PDF, "employee_id": licence}, order_no="00202612020000002",
                    **{"org.id_number": make_uscc("91210106MA10BN6R5")})
    # Given the licence of the first order sent again, as an ID copy, in a second order of another organisation
    found = store.uses_elsewhere(second)
    # Then the second order's copy is found in the first order's case (not the same order's resubmission)
    assert found[hashlib.sha256(licence).hexdigest()] == [OtherUse(order_no="00202612010000001", slot="org_license")]
    assert found[hashlib.sha256(PDF).hexdigest()] == [OtherUse(order_no="00202612010000001", slot="application_form")]
    # and the first order's files are found only in the second order, never in its own other case
    assert {o.order_no for uses in store.uses_elsewhere(first).values() for o in uses} == {"00202612020000002"}
    assert hashlib.sha256(other_png).hexdigest() not in store.uses_elsewhere(again)
    # a third order of the first organisation sending its licence again is marked as the same organisation's
    third = submit(store, {"org_license": licence}, order_no="00202612030000003")
    assert OtherUse(order_no="00202612010000001", slot="org_license", same_organisation=True) in (
        store.uses_elsewhere(third)[hashlib.sha256(licence).hexdigest()])


def test_a_submitter_sees_only_its_own_cases(store: Store) -> None:
    alice, _ = create_key(store.engine, Role.SUBMITTER, "alice")
    bob, _ = create_key(store.engine, Role.SUBMITTER, "bob")
    clerk, _ = create_key(store.engine, Role.CLERK, "clerk")
    case_id = submit(store, by=alice)
    assert store.case(case_id, visible_to=alice).id == case_id
    assert store.case(case_id, visible_to=clerk).id == case_id
    with pytest.raises(NotFound):
        store.case(case_id, visible_to=bob)
    assert store.list_cases(visible_to=bob) == []
    assert [c.id for c in store.list_cases(visible_to=alice)] == [case_id]


def test_an_api_key_is_found_by_its_value_and_only_its_hash_is_stored(store: Store) -> None:
    record, key = create_key(store.engine, Role.AUDITOR, "audit")
    assert find_key(store.engine, key) == record
    assert find_key(store.engine, key + "x") is None
    with store.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.exec_driver_sql("SELECT * FROM api_keys")], default=str)
    assert key not in dump


def test_the_same_bytes_are_stored_once_and_unknown_blobs_are_not_found(store: Store) -> None:
    first = store.blobs.put(b"same bytes")
    assert store.blobs.put(b"same bytes") == first
    assert store.blobs.has(first)
    with pytest.raises(NotFound):
        store.blobs.get("0" * 64)


def test_a_blob_directory_never_overwrites_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    blobs = DirectoryBlobs(tmp_path)
    sha = blobs.put(b"original")
    path = next(p for p in tmp_path.rglob("*") if p.is_file())
    mtime = path.stat().st_mtime_ns
    assert blobs.put(b"original") == sha
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [sha]
    with pytest.raises(NotFound):
        blobs.get("../../etc/passwd")


def test_an_intact_audit_chain_verifies(store: Store) -> None:
    submit(store)
    submit(store)
    verdict = audit.verify(store.engine)
    assert verdict.intact and verdict.events == 2


def test_an_edited_audit_event_is_named_by_verify(store: Store) -> None:
    for _ in range(3):
        submit(store)
    with store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == 2).values(actor="somebody else"))
    verdict = audit.verify(store.engine)
    assert not verdict.intact and verdict.first_bad == 2 and "changed" in verdict.problem


def test_an_event_edited_with_its_hash_recomputed_is_still_named(store: Store) -> None:
    for _ in range(3):
        submit(store)
    with store.engine.begin() as conn:
        row = conn.execute(audit_events.select().where(audit_events.c.id == 2)).mappings().one()
        forged = audit.event_hash(row["prev_hash"], 2, row["at"], row["kind"], row["case_id"], "forger",
                                  row["payload"])
        conn.execute(update(audit_events).where(audit_events.c.id == 2).values(actor="forger", hash=forged))
    verdict = audit.verify(store.engine)
    assert not verdict.intact and verdict.first_bad == 2


def test_a_deleted_audit_event_is_named_by_verify(store: Store) -> None:
    for _ in range(3):
        submit(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == 2))
    verdict = audit.verify(store.engine)
    assert not verdict.intact and verdict.first_bad == 2 and "removed" in verdict.problem


def test_the_newest_audit_event_deleted_is_named_by_verify(store: Store) -> None:
    # Given an intact chain of a few events
    for _ in range(3):
        submit(store)
    newest = audit.verify(store.engine).events
    # When its newest event is removed (the rest still links perfectly)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == newest))
    # Then verify names it: the chain's head, written with every event, still names it
    verdict = audit.verify(store.engine)
    assert not verdict.intact and verdict.first_bad == newest and "removed" in verdict.problem


def test_concurrent_writers_keep_one_unbroken_audit_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(5):
                submit(store, files={})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = audit.verify(store.engine)
    assert verdict.intact and verdict.events == 20


def test_the_default_blob_directory_sits_beside_the_sqlite_database_whatever_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.service.config import ServiceSettings

    monkeypatch.setenv("PRECHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'precheck.db'}")
    monkeypatch.delenv("PRECHECK_BLOB_DIR", raising=False)
    monkeypatch.delenv("PRECHECK_BLOB_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = ServiceSettings.from_env()
    assert settings.blob_store == "directory" and settings.blob_dir == tmp_path / "data" / "blobs"
    monkeypatch.setenv("PRECHECK_DATABASE_URL", "postgresql+psycopg://h/db")
    assert ServiceSettings.from_env().blob_store == "database"


def test_the_migrations_build_exactly_the_tables_the_code_declares(store: Store) -> None:
    # a column added to pipeline/service/tables.py without a migration fails here
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from pipeline.service.tables import metadata

    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []  # the register's tables included: no table of the database is undeclared


def test_the_queue_filters_days_by_the_office_clock_whatever_the_database_keeps(store: Store) -> None:
    from datetime import UTC, date, datetime

    from pipeline.service.actions import QueueFilter, open_cases
    from pipeline.service.tables import cases

    # Given a case waiting for a clerk, submitted at 01:30 in Beijing on 7 December (17:30 UTC on the 6th)
    case_id = submit(store)
    key = store.case(case_id).review_key
    assert key is not None
    store.start_review(case_id, key, RULES, "w1")
    store.finish_review(key, decision="needs_review", report_json="{}", error=None, worker="w1")
    with store.engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id)
                     .values(created_at=datetime(2026, 12, 6, 17, 30, tzinfo=UTC)))

    def found(**days: date) -> list[str]:
        return [c.id for c in open_cases(store, QueueFilter(**days))]  # type: ignore[arg-type]

    # Then it is a case of the 7th, on SQLite as on PostgreSQL
    assert found(since=date(2026, 12, 7)) == [case_id]
    assert found(until=date(2026, 12, 7)) == [case_id]
    assert found(until=date(2026, 12, 6)) == []
    assert found(since=date(2026, 12, 8)) == []
