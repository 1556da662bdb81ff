"""The issuance register in the store's migrations (0004) — each test on SQLite and on PostgreSQL:
the migrations make its tables append-only, every row is an audit event, and a database whose
register tables the code before 0004 made itself upgrades with its rows kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DDL, Engine, MetaData, event, insert, inspect, select, text
from sqlalchemy.exc import DatabaseError

from pipeline.issuance.register import Register
from pipeline.service import audit
from pipeline.service.config import ServiceSettings
from pipeline.service.db import alembic_config, make_engine, upgrade
from pipeline.service.store import Store
from pipeline.service.tables import APPEND_ONLY, case_decisions, issuance_events, metadata
from tests.services import Postgres

ORDER = "00202009200000604"

STATEMENTS = ["UPDATE case_decisions SET decision = 'approved'", "DELETE FROM case_decisions",
              "UPDATE issuance_events SET serial = '00'", "DELETE FROM issuance_events"]


def fill(register: Register) -> None:
    register.record_decision(ORDER, "rejected", source="clerk", actor="王芳", case_digest="d", reason="印章不清")
    register.journal("case").token_prepared(ORDER, b"sealed", "ec")  # type: ignore[arg-type]


def test_opening_the_store_makes_the_register_tables_and_the_register_writes_through_the_audit_chain(
        store: Store) -> None:
    # Given a store opened (migrated) with nothing of the register's code run yet
    assert {"issuance_events", "case_decisions"} <= set(inspect(store.engine).get_table_names())
    # When the register records a decision and an issuance step on the same database
    register = Register(store.engine)
    fill(register)
    # Then both rows are there, each with its audit event, and the chain verifies
    decision = register.current_decision(ORDER, "d")
    assert decision is not None
    assert (decision.decision, decision.actor, decision.reason) == ("rejected", "王芳", "印章不清")
    entry = register.journal("case").entry(ORDER)
    assert entry is not None and entry.sealed_so_pin == b"sealed"
    with store.engine.connect() as conn:
        kinds = list(conn.execute(select(text("kind")).select_from(text("audit_events")).order_by(text("id")))
                     .scalars())
    assert kinds == ["decision_rejected", "issuance_prepared"]
    assert audit.verify(store.engine).intact


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_database_refuses_to_change_or_remove_a_register_row(store: Store, statement: str) -> None:
    fill(Register(store.engine))
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement))
    with store.engine.connect() as conn:
        assert conn.execute(select(case_decisions.c.decision)).scalars().all() == ["rejected"]
        assert conn.execute(select(issuance_events.c.event)).scalars().all() == ["prepared"]


def test_postgresql_refuses_to_truncate_the_register(postgres: Postgres) -> None:
    # TRUNCATE is PostgreSQL's (it skips row triggers); SQLite's DELETE without WHERE is refused above
    register = Register(postgres.new_database())
    try:
        fill(register)
        for table in ("case_decisions", "issuance_events"):
            with pytest.raises(DatabaseError, match="append-only"), register.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table}"))
    finally:
        register.engine.dispose()


def make_register_the_old_way(engine: Engine) -> None:
    """What the code before migration 0004 did on opening a Register: the store migrated to 0003,
    then ``create_all`` of the register's own MetaData (with triggers refusing UPDATE and DELETE on
    SQLite only), and a decision and an issuance step recorded with their audit events."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    old = MetaData()
    for table in APPEND_ONLY:
        copy = table.to_metadata(old)
        for verb in ("UPDATE", "DELETE"):
            event.listen(copy, "after_create", DDL(
                f"CREATE TRIGGER IF NOT EXISTS {table.name}_no_{verb} BEFORE {verb} ON {table.name} "
                f"BEGIN SELECT RAISE(ABORT, '{table.name} is append-only'); END").execute_if(dialect="sqlite"))
    old.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(old.tables["case_decisions"]).values(
            order_no=ORDER, decision="approved", source="clerk", actor="王芳", reason="材料齐全", case_digest="d0",
            at=now))
        audit.append(conn, "decision_approved", actor="王芳", payload={"order_no": ORDER, "decision": "approved"})
        conn.execute(insert(old.tables["issuance_events"]).values(
            order_no=ORDER, event="prepared", case_ref="case", key_type="ec", sealed_so_pin=b"sealed", at=now))
        audit.append(conn, "issuance_prepared", actor="precheck issue", payload={"order_no": ORDER})


def test_a_database_whose_register_the_old_code_made_upgrades_keeping_its_rows(
        store_settings: ServiceSettings) -> None:
    # Given a database at revision 0003 whose register tables the register made itself, with rows
    engine = make_engine(store_settings.database_url)
    try:
        make_register_the_old_way(engine)
        # When it is upgraded (opening the store or the register does this)
        upgrade(engine)
        register = Register(engine)
        # Then it is at the newest revision (0004 or after) and holds exactly the declared schema, with the old rows
        with engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert head is not None and head >= "0004"
            assert MigrationContext.configure(conn).get_current_revision() == head
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        decision = register.current_decision(ORDER, "d0")
        assert decision is not None and (decision.decision, decision.actor) == ("approved", "王芳")
        entry = register.journal("case").entry(ORDER)
        assert entry is not None and entry.sealed_so_pin == b"sealed"
        # and the register goes on: a new row, its audit event, an intact chain
        register.record_decision(ORDER, "rejected", source="clerk", actor="李娜", case_digest="d1")
        assert audit.verify(engine).intact and audit.verify(engine).events == 3
        # and both tables are append-only now, on PostgreSQL too (the old code guarded SQLite only)
        for statement in STATEMENTS:
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        # and upgrading again changes nothing
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(select(case_decisions.c.actor).order_by(case_decisions.c.id)).scalars().all() == [
                "王芳", "李娜"]
    finally:
        engine.dispose()
