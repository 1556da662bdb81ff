"""The web console over HTTP (FastAPI's test client) on SQLite and on PostgreSQL: sign-in, CSRF,
roles, the queue, clerks' actions and their audit events, auditors' views, masked ID numbers. The
review is a fake that decides by the case's remark; tests/test_console_browser.py drives a real
``precheck serve`` with real reviews in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.casefolder import load_case_folder
from pipeline.identifiers import mask_resident_ids
from pipeline.issuance.gate import case_digest
from pipeline.issuance.register import Register
from pipeline.models import Decision, Finding, OtherUse, Report, Status
from pipeline.report import BEIJING
from pipeline.review import PriorReview
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.service import actions, audit
from pipeline.service.keys import Role
from pipeline.service.store import Store
from pipeline.service.users import create_user
from pipeline.web.api import create_app
from tests.servicekit import PNG, Service, running_service

PASSWORD = "correct horse"
SEAL = {"seals": [{"page": 0, "bbox": [10, 10, 40, 40]}]}


@dataclass
class RemarkReview:
    """remark "fail" → rejected, "unsure" → needs review (an uncertain seal), else approved."""

    def __call__(self, path: Path, rules: RuleSet, *, reuse: PriorReview | None = None,
                 elsewhere: Mapping[str, Sequence[OtherUse]] | None = None) -> Report:
        folder = load_case_folder(path, set(rules.slots))
        remark = folder.case.remark
        if remark == "crash":
            raise RuntimeError("the review engine broke")
        findings = []
        if remark in ("fail", "unsure"):
            status = Status.FAIL if remark == "fail" else Status.UNCERTAIN
            findings.append(Finding(rule="seal.org_name", slot="application_form", status=status,
                                    message="机构员工数字证书申请表公章上的单位名称与填写的不一致", evidence=SEAL))
        decision = {"fail": Decision.REJECTED, "unsure": Decision.NEEDS_REVIEW}.get(remark, Decision.APPROVED)
        return Report(order_no=folder.case.order_no, decision=decision, rule_set=rules.ref, findings=findings)


@pytest.fixture()
def console(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Service]:
    monkeypatch.setenv("PRECHECK_SESSION_SECRET", "test-secret")
    monkeypatch.setenv("PRECHECK_PREVIEW_DIR", str(tmp_path / "previews"))
    for name, role in (("clerk", Role.CLERK), ("auditor", Role.AUDITOR), ("admin", Role.ADMIN)):
        create_user(store.engine, name, role, PASSWORD)
    yield from running_service(store, RemarkReview())


def csrf_of(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    answer = client.post("/login", data={"username": name, "password": password, "csrf_token": csrf_of(client)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def reviewed(service: Service, remark: str, **changes: object) -> str:
    case_id = service.submit(None, "submitter", remark=remark, **changes)
    service.wait_report(case_id)
    return case_id


def post(client: TestClient, path: str, data: dict[str, object]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_of(client, "/queue")}, follow_redirects=False)


def test_a_page_leads_to_sign_in_and_its_json_twin_answers_401_in_the_error_shape(console: Service) -> None:
    c = console.client
    first = c.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/queue"
    page = c.get("/queue", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    for answer in (c.get("/queue.json"), c.get("/queue", headers={"Accept": "application/json"})):
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_a_wrong_password_gets_a_chinese_message_and_repeated_failures_are_refused(console: Service) -> None:
    c = console.client
    for _ in range(5):
        wrong = c.post("/login", data={"username": "clerk", "password": "nope", "csrf_token": csrf_of(c)})
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    again = c.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(c)})
    assert again.status_code == 429 and "登录失败次数过多" in again.json()["error"]["message"]
    # the failures are kept in the store: another precheck serve on it refuses the name too
    with TestClient(create_app(console.store, console.broker, load_rule_set())) as other:
        refused = other.post("/login", data={"username": "Clerk", "password": PASSWORD, "csrf_token": csrf_of(other)})
        assert refused.status_code == 429
        other_user = other.post("/login", data={"username": "auditor", "password": PASSWORD,
                                                "csrf_token": csrf_of(other)}, follow_redirects=False)
        assert other_user.status_code == 303


def test_a_form_posted_without_its_csrf_token_is_refused_403(console: Service) -> None:
    c = console.client
    c.get("/login")
    refused = c.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    sign_in(c, "clerk")
    case_id = reviewed(console, "unsure")
    forged = c.post(f"/cases/{case_id}/approve", data={"reason": "ok", "csrf_token": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]["message"]


def test_the_queue_holds_the_cases_that_need_a_person_oldest_first_with_counts(console: Service) -> None:
    unsure = reviewed(console, "unsure")
    failed = reviewed(console, "fail")
    reviewed(console, "")
    sign_in(console.client, "clerk")
    data = console.client.get("/queue.json").json()
    assert [c["id"] for c in data["cases"]] == [unsure, failed]
    counts = data["counts"]
    assert (counts["open_needs_review"], counts["open_rejected"], counts["approved"]) == (1, 1, 1)
    assert console.client.get("/queue", headers={"Accept": "application/json"}).json() == data
    only = console.client.get("/queue.json", params={"decision": "rejected"}).json()["cases"]
    assert [c["id"] for c in only] == [failed]
    assert console.client.get("/queue.json", params={"rule": "ocr.uscc"}).json()["cases"] == []
    today = datetime.now(BEIJING).date()
    assert len(console.client.get("/queue.json", params={"since": today.isoformat()}).json()["cases"]) == 2
    yesterday = (today - timedelta(days=1)).isoformat()
    assert console.client.get("/queue.json", params={"until": yesterday}).json()["cases"] == []
    assert console.client.get("/queue.json", params={"since": "06/12/2026"}).status_code == 422
    html = console.client.get("/queue").text
    assert "工作队列" in html and unsure in html


def test_a_clerks_approval_needs_a_reason_is_audited_and_counts_for_issuance(console: Service, tmp_path: Path) -> None:
    case_id = reviewed(console, "unsure")
    same_order = reviewed(console, "unsure")  # another case of the same order number
    sign_in(console.client, "clerk")
    page = console.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "approve-form" in page.text
    assert post(console.client, f"/cases/{case_id}/approve", {"reason": " "}).status_code == 422
    done = post(console.client, f"/cases/{case_id}/approve", {"reason": "公章文字经人工核对一致"})
    assert done.status_code == 303
    data = console.client.get(f"/cases/{case_id}.json").json()
    assert data["open"] is False and data["current_action"]["action"] == "approved"
    counts = console.client.get("/queue.json").json()["counts"]
    assert (counts["open_needs_review"], counts["needs_review"], counts["clerk_approved"]) == (1, 2, 1)
    # a second action on the same inputs (another clerk's page, still open) loses: 409, nothing recorded
    late = post(console.client, f"/cases/{case_id}/reject", {"message": "退回"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "conflict"
    assert [a["action"] for a in console.client.get(f"/cases/{case_id}.json").json()["actions"]] == ["approved"]
    assert [c["id"] for c in console.client.get("/queue.json").json()["cases"]] == [same_order]
    # the register holds the approval for the case exactly as it is now: precheck issue honours it
    folder = load_case_folder(console.store.write_case_folder(case_id, tmp_path), set(load_rule_set().slots))
    recorded = Register(console.store.engine).current_decision(data["order_no"], case_digest(folder))
    assert recorded is not None and recorded.decision == "approved" and recorded.source == "clerk"
    kinds = _event_kinds(console.store)
    assert "clerk_approved" in kinds and "decision_approved" in kinds
    # the case's own events name the approval; the other case of the same order number shows none of it
    mine = [e["kind"] for e in actions.case_events(console.store, console.store.case(case_id))]
    assert mine[-2:] == ["clerk_approved", "decision_approved"]
    other = [e["kind"] for e in actions.case_events(console.store, console.store.case(same_order))]
    assert "decision_approved" not in other and "clerk_approved" not in other
    assert audit.verify(console.store.engine).intact


def test_a_rejection_sends_the_prefilled_message_as_edited(console: Service) -> None:
    case_id = reviewed(console, "fail")
    sign_in(console.client, "clerk")
    data = console.client.get(f"/cases/{case_id}.json").json()
    assert "1. 机构员工数字证书申请表公章上的单位名称与填写的不一致" in data["applicant_message"]
    message = data["applicant_message"] + "\n请于三日内重新提交。"
    assert post(console.client, f"/cases/{case_id}/reject", {"message": message}).status_code == 303
    after = console.client.get(f"/cases/{case_id}.json").json()
    assert after["current_action"]["reason"] == message.strip()


def test_asking_for_a_new_upload_holds_the_case_until_the_applicant_replaces_the_file(console: Service) -> None:
    case_id = reviewed(console, "unsure")
    sign_in(console.client, "clerk")
    asked = post(console.client, f"/cases/{case_id}/request-upload", {"slots": ["org_license"], "message": "请重传"})
    assert asked.status_code == 303
    assert console.client.get("/queue.json").json()["counts"]["clerk_upload_requested"] == 1
    assert console.client.get("/queue.json").json()["cases"] == []
    # a new file in another slot is reviewed, but the case still waits for the one asked for
    other = console.client.put(f"/api/cases/{case_id}/uploads/handler_id", headers=console.auth(),
                               files={"file": ("id.png", PNG + b"other", "image/png")})
    assert other.status_code == 202
    console.wait_report(case_id)
    assert console.client.get("/queue.json").json()["cases"] == []
    assert console.client.get(f"/cases/{case_id}.json").json()["waiting_for"] == ["org_license"]
    answer = console.client.put(f"/api/cases/{case_id}/uploads/org_license", headers=console.auth(),
                                files={"file": ("licence.png", PNG + b"v2", "image/png")})
    assert answer.status_code == 202
    console.wait_report(case_id)
    assert console.client.get(f"/cases/{case_id}.json").json()["waiting_for"] == []
    data = console.client.get("/queue.json").json()
    assert [c["id"] for c in data["cases"]] == [case_id]
    versions = [u["version"] for u in console.client.get(f"/cases/{case_id}.json").json()["uploads"]
                if u["slot"] == "org_license"]
    assert versions == [1, 2]
    old = console.client.get(f"/cases/{case_id}/files/org_license/1")
    assert old.status_code == 200 and old.content == PNG


def test_roles_auditors_read_and_never_act_clerks_see_no_statistics(console: Service) -> None:
    case_id = reviewed(console, "unsure")
    sign_in(console.client, "auditor")
    assert console.client.get(f"/cases/{case_id}").status_code == 200
    refused = post(console.client, f"/cases/{case_id}/approve", {"reason": "ok"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    audit_view = console.client.get(f"/cases/{case_id}/audit.json").json()
    assert "chain" in audit_view, audit_view
    assert audit_view["chain"]["intact"] is True and audit_view["reviews"][0]["decision"] == "needs_review"
    assert [e["kind"] for e in audit_view["events"]][:1] == ["submitted"]
    stats = console.client.get("/stats.json").json()
    assert stats["summary"]["reviews"] == 1 and stats["per_rule"][0]["rule"] == "seal.org_name"
    csv = console.client.get("/stats.csv")
    assert csv.status_code == 200 and "per_rule,seal.org_name,uncertain,1" in csv.text
    assert "<svg" in console.client.get("/stats").text
    console.client.post("/logout", data={"csrf_token": csrf_of(console.client, "/queue")})
    sign_in(console.client, "clerk")
    assert console.client.get("/stats").status_code == 403
    assert console.client.get(f"/cases/{case_id}/audit").status_code == 403


def test_id_numbers_are_masked_for_auditors_and_whole_for_clerks(console: Service) -> None:
    case_id = reviewed(console, "unsure")
    whole = console.store.case(case_id).case_json
    number = re.search(r'"id_number": ?"(\d{17}[\dX])"', whole)
    assert number, whole
    sign_in(console.client, "auditor")
    seen = console.client.get(f"/cases/{case_id}.json").text + console.client.get(f"/cases/{case_id}").text
    assert number.group(1) not in seen and mask_resident_ids(number.group(1)) in seen
    console.client.post("/logout", data={"csrf_token": csrf_of(console.client, "/queue")})
    sign_in(console.client, "clerk")
    assert number.group(1) in console.client.get(f"/cases/{case_id}.json").text


def test_a_review_that_kept_failing_is_in_the_queue_with_its_error_on_the_case_page(console: Service) -> None:
    case_id = console.submit(remark="crash")
    assert console.wait_report(case_id)["decision"] == "needs_review"
    sign_in(console.client, "clerk")
    assert [c["id"] for c in console.client.get("/queue.json").json()["cases"]] == [case_id]
    page = console.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "自动审核未能完成" in page.text and "the review engine broke" in page.text


def test_precheck_user_create_reads_the_password_from_stdin_and_refuses_a_short_one(store: Store,
                                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                                  tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from pipeline.cli.service import register
    from pipeline.service.users import authenticate

    app = typer.Typer()
    register(app)

    monkeypatch.setenv("PRECHECK_DATABASE_URL", str(store.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("PRECHECK_BLOB_DIR", str(tmp_path / "blobs"))
    runner = CliRunner()
    made = runner.invoke(app, ["user", "create", "li", "--role", "auditor"], input="long enough pw\n")
    assert made.exit_code == 0, made.output
    user = authenticate(store.engine, "li", "long enough pw")
    assert user is not None and user.role is Role.AUDITOR
    short = runner.invoke(app, ["user", "create", "zhou", "--role", "clerk"], input="short\n")
    assert short.exit_code != 0 and "至少 8 个字符" in short.output
    twice = runner.invoke(app, ["user", "create", "li", "--role", "clerk"], input="long enough pw\n")
    assert twice.exit_code != 0 and "已存在" in twice.output
    submitter = runner.invoke(app, ["user", "create", "bot", "--role", "submitter"], input="long enough pw\n")
    assert submitter.exit_code != 0


def test_no_log_line_carries_a_whole_resident_id_number_tracebacks_included() -> None:
    import logging

    from pipeline.cli.main import _Masked, _OneLine

    try:
        raise ValueError("bad id 21010219900101123X")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "case of %s", ("210102199001011234",),
                                   sys.exc_info())
    for formatter in (_Masked("%(message)s"), _OneLine("%(message)s")):
        line = formatter.format(record)
        assert "19900101" not in line and "210102********1234" in line
    assert "210102********123X" in _Masked("%(message)s").format(record)


def test_a_resident_id_is_masked_to_its_area_code_and_last_four() -> None:
    assert mask_resident_ids("id 21010219900101123X, 91210100MA0Y3K7P8G") == "id 210102********123X, 91210100MA0Y3K7P8G"
    assert mask_resident_ids("order 00202009200000604") == "order 00202009200000604"


def _event_kinds(store: Store) -> list[str]:
    from sqlalchemy import select

    from pipeline.service.tables import audit_events

    with store.engine.connect() as conn:
        return list(conn.execute(select(audit_events.c.kind).order_by(audit_events.c.id)).scalars())
