"""``precheck apikey create`` and ``precheck audit verify`` (CONTRACT §6), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import delete, update
from typer.testing import CliRunner, Result

from pipeline.cli.service import register
from pipeline.service.config import ServiceSettings
from pipeline.service.keys import Role, find_key
from pipeline.service.store import Store
from pipeline.service.tables import audit_events


def run(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args))


@pytest.fixture()
def configured(store_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("PRECHECK_DATABASE_URL", store_settings.database_url)
    monkeypatch.setenv("PRECHECK_BLOB_STORE", store_settings.blob_store)
    monkeypatch.setenv("PRECHECK_BLOB_DIR", str(store_settings.blob_dir))
    return Store.open(store_settings)


def test_apikey_create_prints_a_key_once_that_the_store_knows_by_its_hash(configured: Store) -> None:
    result = run("apikey", "create", "--role", "clerk", "--name", "wang")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    found = find_key(configured.engine, key)
    assert found is not None and found.role is Role.CLERK and found.name == "wang"


def test_apikey_create_refuses_an_unknown_role(configured: Store) -> None:
    assert run("apikey", "create", "--role", "boss").exit_code == 2


def test_audit_verify_exits_0_on_an_intact_chain(configured: Store) -> None:
    for role in ("submitter", "auditor", "admin"):
        run("apikey", "create", "--role", role)
    result = run("audit", "verify")
    assert result.exit_code == 0 and "3 events" in result.stdout


def test_audit_verify_exits_1_naming_an_edited_event(configured: Store) -> None:
    for role in ("submitter", "auditor", "admin"):
        run("apikey", "create", "--role", role)
    with configured.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == 2).values(payload='{"role":"admin"}'))
    result = run("audit", "verify")
    assert result.exit_code == 1 and "event 2" in result.stdout and "changed" in result.stdout


def test_audit_verify_exits_1_naming_a_deleted_event(configured: Store) -> None:
    for role in ("submitter", "auditor", "admin"):
        run("apikey", "create", "--role", role)
    with configured.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.id == 1))
    result = run("audit", "verify")
    assert result.exit_code == 1 and "event 1 was removed" in result.stdout
