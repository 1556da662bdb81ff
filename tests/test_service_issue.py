"""``precheck issue <stored case id>`` (CONTRACT §7): a case kept by the review service is issued
from its stored review, and the issuance is an audit event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.casefolder import parse_case_json
from pipeline.models import Decision, Report
from pipeline.report import report_json
from pipeline.ruleset import load_rule_set
from pipeline.service import audit
from pipeline.service.store import NewFile, Store
from pipeline.service.tables import audit_events
from tests.casedata import case_dict
from tests.office import ORDER, run
from tests.servicekit import PDF


def stored_case(decision: Decision) -> tuple[Store, str]:
    """A case in the store (in the office's database) whose current review decided ``decision``."""
    store = Store.open()
    rules = load_rule_set()
    raw = json.dumps(case_dict(), ensure_ascii=False).encode()
    stored = store.submit(parse_case_json(raw), raw, [NewFile("application_form", "form.pdf", PDF)],
                          rule_set_sha256=rules.sha256, by=None, actor="test")
    assert stored.review_key is not None
    store.start_review(stored.id, stored.review_key, rules.sha256, "test-worker")
    report = Report(order_no=ORDER, decision=decision, rule_set=rules.ref, findings=[])
    store.finish_review(stored.review_key, decision=decision.value, report_json=report_json(report), error=None,
                        worker="test-worker")
    return store, stored.id


def test_a_stored_approved_case_is_issued_by_its_id_and_the_issuance_is_audited(office: Path) -> None:
    # Given a paid case the service reviewed as approved
    store, case_id = stored_case(Decision.APPROVED)
    # When it is issued by its stored id
    result = run("issue", case_id, "--json", "--out", str(office / "out"))
    # Then it is issued like a case folder, and the audit chain records it
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["order_no"], data["status"]) == (ORDER, "issued")
    assert (office / "out" / "certificate.pem").is_file()
    with store.engine.connect() as conn:
        kinds = list(conn.execute(select(audit_events.c.kind).order_by(audit_events.c.id)).scalars())
    assert kinds[-5:] == ["decision_approved", "issuance_prepared", "issuance_certified", "issuance_completed",
                          "certificate_issued"]
    assert audit.verify(store.engine).intact
    # And issuing again returns the same certificate
    again = json.loads(run("issue", case_id, "--json").stdout)
    assert again["already_issued"] and again["serial"] == data["serial"]


def test_a_stored_case_that_needs_review_is_refused_by_its_id(office: Path) -> None:
    _, case_id = stored_case(Decision.NEEDS_REVIEW)
    result = run("issue", case_id, "--json")
    assert result.exit_code == 1
    failed = {f["rule"] for f in json.loads(result.stdout)["findings"] if f["status"] == "fail"}
    assert failed == {"token.not_approved"}


def test_an_unknown_stored_case_id_is_not_found(office: Path) -> None:
    Store.open()
    result = run("issue", "0" * 32)
    assert result.exit_code != 0 and "no case" in result.output


def test_a_clerks_recorded_approval_is_an_audit_event_naming_the_clerk(office: Path, tmp_path: Path) -> None:
    store, case_id = stored_case(Decision.NEEDS_REVIEW)
    folder = store.write_case_folder(case_id, tmp_path / "folder")
    assert run("approve", str(folder), "--clerk", "王芳", "--reason", "印章清晰").exit_code == 0
    with store.engine.connect() as conn:
        last = conn.execute(select(audit_events).order_by(audit_events.c.id.desc()).limit(1)).mappings().one()
    assert (last["kind"], last["actor"]) == ("decision_approved", "王芳")
    assert json.loads(last["payload"])["reason"] == "印章清晰"
    assert audit.verify(store.engine).intact


def test_a_case_a_clerk_approved_in_the_web_console_is_issued_by_its_id(office: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from pipeline.service.keys import Role
    from pipeline.service.queue import make_broker
    from pipeline.service.users import create_user
    from pipeline.web.api import create_app
    from tests.test_console import PASSWORD, post, sign_in

    # Given a stored case the review sent to a person, and a clerk who approves it in the console
    monkeypatch.setenv("PRECHECK_SESSION_SECRET", "issue-test")
    store, case_id = stored_case(Decision.NEEDS_REVIEW)
    create_user(store.engine, "wang", Role.CLERK, PASSWORD)
    with TestClient(create_app(store, make_broker(None), load_rule_set())) as client:
        sign_in(client, "wang")
        assert post(client, f"/cases/{case_id}/approve", {"reason": "印章经人工核对"}).status_code == 303
    # When it is issued by its stored id, Then the clerk's approval counts
    result = run("issue", case_id, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "issued"
