"""The REST API of CONTRACT §6 on the in-process queue, on SQLite and on PostgreSQL; the review
itself is a fake here (tests/test_service_e2e.py runs the real one)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pipeline.service import audit
from tests.servicekit import PDF, PNG, FakeReview, Service, running_service

MIB5 = 5 * 1024 * 1024


def test_a_submitted_case_is_answered_202_and_its_report_arrives(service: Service) -> None:
    case_id = service.submit()
    report = service.wait_report(case_id)
    assert report["decision"] == "approved" and report["order_no"] == "00202009200000604"
    assert service.review.seen == [{"application_form": PDF, "org_license": PNG}]


def test_the_report_carries_an_etag_and_answers_304_when_unchanged(service: Service) -> None:
    case_id = service.submit()
    service.wait_report(case_id)
    first = service.client.get(f"/api/cases/{case_id}/report", headers=service.auth())
    etag = first.headers["ETag"]
    again = service.client.get(f"/api/cases/{case_id}/report", headers={**service.auth(), "If-None-Match": etag})
    assert again.status_code == 304


def test_a_replaced_file_is_kept_as_a_new_version_and_reviewed_again(service: Service) -> None:
    case_id = service.submit()
    service.wait_report(case_id)
    answer = service.client.put(f"/api/cases/{case_id}/uploads/org_license", headers=service.auth(),
                                files={"file": ("licence.pdf", PDF + b"new", "application/pdf")})
    assert answer.status_code == 202, answer.text
    service.wait_report(case_id)
    assert service.review.seen[-1]["org_license"] == PDF + b"new"
    versions = [u.version for u in service.store.upload_history(case_id) if u.slot == "org_license"]
    assert versions == [1, 2] and len(service.store.reviews_of(case_id)) == 2


def test_a_bad_case_json_gets_422_with_the_field_named_messages_of_the_cli(service: Service) -> None:
    bad = json.dumps({"order_no": "123"}).encode()
    answer = service.client.post("/api/cases", headers=service.auth(), files=[("case", ("case.json", bad))])
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "bad_case"
    assert "order_no: 格式不正确 / wrong format" in error["message"]
    assert {"field": "org", "message": "必填字段缺失 / field required"} in error["problems"]
    assert service.store.list_cases(visible_to=None) == []


def test_an_unknown_slot_is_422_and_nothing_is_stored(service: Service) -> None:
    answer = service.client.post("/api/cases", headers=service.auth(), files=[
        ("case", ("case.json", json.dumps({}).encode())), ("selfie", ("me.png", PNG))])
    assert answer.status_code == 422 and "selfie" in answer.json()["error"]["message"]
    bad_put = service.client.put("/api/cases/x/uploads/selfie", headers=service.auth(), files={"file": ("a", PNG)})
    assert bad_put.status_code == 422
    assert service.store.list_cases(visible_to=None) == []


def test_a_file_of_5_mib_is_refused_413_and_nothing_is_stored(service: Service) -> None:
    case = json.dumps({}).encode()
    answer = service.client.post("/api/cases", headers=service.auth(), files=[
        ("case", ("case.json", case)), ("org_license", ("big.png", PNG + b"\0" * (MIB5 - len(PNG))))])
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    just_under = service.client.post("/api/cases", headers=service.auth(), files=[
        ("case", ("case.json", case)), ("org_license", ("big.png", PNG + b"\0" * (MIB5 - 1 - len(PNG))))])
    assert just_under.status_code == 422  # the file passed; the empty case.json did not
    assert service.store.list_cases(visible_to=None) == []


def test_keys_and_roles_guard_every_case(service: Service) -> None:
    case_id = service.submit()
    assert service.client.get(f"/api/cases/{case_id}/report").status_code == 401
    wrong = service.client.get(f"/api/cases/{case_id}/report", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert service.client.get(f"/api/cases/{case_id}/report", headers=service.auth("other")).status_code == 404
    assert service.client.get(f"/api/cases/{case_id}/report", headers=service.auth("auditor")).status_code in (200, 202)
    refused = service.client.post("/api/cases", headers=service.auth("auditor"), files=[("case", ("c", b"{}"))])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert service.client.get("/api/cases", headers=service.auth("other")).json()["cases"] == []


def test_cases_are_listed_by_decision_and_page(service: Service) -> None:
    case_id = service.submit()
    service.wait_report(case_id)
    listed = service.client.get("/api/cases?decision=approved&page=1", headers=service.auth()).json()
    assert [c["id"] for c in listed["cases"]] == [case_id]
    assert service.client.get("/api/cases?decision=rejected", headers=service.auth()).json()["cases"] == []
    assert service.client.get("/api/cases?page=2", headers=service.auth()).json()["cases"] == []
    assert service.client.get("/api/cases?decision=maybe", headers=service.auth()).status_code == 422


def test_every_error_has_one_shape(service: Service) -> None:
    for answer in (service.client.get("/api/nothing-here"), service.client.delete("/api/cases"),
                   service.client.get("/api/cases/none/report", headers=service.auth()),
                   service.client.post("/api/cases", headers=service.auth(), content=b"x")):
        assert answer.status_code in (404, 405, 422), answer.text
        body = answer.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])


def test_health_and_the_openapi_description_answer_without_a_key(service: Service) -> None:
    assert service.client.get("/healthz").json()["status"] == "ok"
    paths = service.client.get("/openapi.json").json()["paths"]
    expected = {"/api/cases", "/api/cases/{case_id}/report", "/api/cases/{case_id}/uploads/{slot}", "/healthz"}
    assert expected <= set(paths)


def test_a_review_that_keeps_failing_is_stored_as_needs_review_with_the_error(store: object) -> None:
    from pipeline.service.queue import ReviewPolicy

    review = FakeReview(fail_times=100)
    for service in running_service(store, review, ReviewPolicy(max_retries=2, min_backoff_ms=10,  # type: ignore[arg-type]
                                                               max_backoff_ms=20)):
        case_id = service.submit()
        report = service.wait_report(case_id)
        assert report["decision"] == "needs_review" and "the review engine broke" in str(report["error"])
        assert len(review.seen) == 3  # the first try and two retries
        assert len(service.store.reviews_of(case_id)) == 1


def test_a_redelivered_message_does_not_review_twice(service: Service) -> None:
    from pipeline.service.queue import send_review

    case_id = service.submit()
    service.wait_report(case_id)
    send_review(service.broker, case_id)
    service.broker.join("precheck-reviews")
    assert len(service.review.seen) == 1 and len(service.store.reviews_of(case_id)) == 1


def test_every_step_is_on_the_audit_chain(service: Service) -> None:
    case_id = service.submit()
    service.wait_report(case_id)
    with service.store.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(audit.audit_events.select().order_by(audit.audit_events.c.id))]
    assert kinds[-3:] == ["submitted", "review_started", "review_finished"]
    assert audit.verify(service.store.engine).intact


@pytest.mark.parametrize("slot", ["application_form"])
def test_a_case_without_files_is_still_accepted_and_reviewed(service: Service, slot: str) -> None:
    case_id = service.submit(files={})
    assert service.wait_report(case_id)["decision"] == "approved"


def test_an_unexpected_failure_is_a_500_in_the_same_error_shape(service: Service,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(service.store, "list_cases", broken)
    answer = service.client.get("/api/cases", headers=service.auth())
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": "内部错误，已记录 / internal error, logged"}}


def test_a_body_declared_larger_than_every_allowed_part_together_is_refused_before_reading(service: Service) -> None:
    def never_sent() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    answer = service.client.post("/api/cases", content=never_sent(), headers={
        **service.auth(), "Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(20 * MIB5)})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
