"""The worker's re-review after ``PUT /api/cases/<id>/uploads/<slot>``: it gives ``review_case`` the
case's previous review, whose findings on the unchanged files are taken over — on SQLite and on
PostgreSQL, through the API, the queue and the store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.models import OtherUse
from pipeline.ruleset import load_rule_set
from pipeline.service.store import Store
from pipeline.worker.actors import review_folder
from tests.reusecases import CLEAN, OTHER_HANDLER, PER_FILE, make_cases
from tests.servicekit import PDF, PNG, FakeReview, Service, running_service


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_cases(tmp_path_factory, "rereview-cases")


@pytest.fixture()
def reviewing(store: Store) -> Iterator[Service]:
    """The service with the real review (review_case)."""
    yield from running_service(store, review_folder)


def submit_folder(service: Service, folder: Path) -> str:
    parts = [("case", ("case.json", (folder / "case.json").read_bytes(), "application/json"))]
    parts += [(p.name.split(".")[0], (p.name, p.read_bytes(), "application/octet-stream"))
              for p in sorted((folder / "uploads").iterdir())]
    answer = service.client.post("/api/cases", files=parts, headers=service.auth())
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def replace_upload(service: Service, case_id: str, slot: str, path: Path) -> None:
    answer = service.client.put(f"/api/cases/{case_id}/uploads/{slot}", headers=service.auth(),
                                files={"file": (path.name, path.read_bytes())})
    assert answer.status_code == 202, answer.text


def test_the_re_review_after_a_replaced_file_is_given_the_previous_review(service: Service) -> None:
    # Given a case reviewed once
    case_id = service.submit()
    service.wait_report(case_id)
    [first] = service.store.reviews_of(case_id)
    # When one of its files is replaced
    answer = service.client.put(f"/api/cases/{case_id}/uploads/org_license", headers=service.auth(),
                                files={"file": ("licence.png", PNG + b"new")})
    assert answer.status_code == 202, answer.text
    service.wait_report(case_id)
    # Then the first review had nothing to reuse, and the second was given the first
    review: FakeReview = service.review
    assert review.reused[0] is None
    given = review.reused[1]
    assert given is not None and given.reviewed["review_key"] == first.review_key
    assert given.rule_set_sha256 == load_rule_set().sha256


def test_a_real_re_review_through_the_api_reuses_the_unchanged_files_findings(
        reviewing: Service, cases: dict[str, Path]) -> None:
    # Given the clean case submitted through the API and reviewed by the worker
    case_id = submit_folder(reviewing, cases[CLEAN])
    assert reviewing.wait_report(case_id, timeout=180)["decision"] == "approved"
    [first] = reviewing.store.reviews_of(case_id)
    # When the applicant replaces the handler's ID copy with one showing another person
    [other] = (cases[OTHER_HANDLER] / "uploads").glob("handler_id.*")
    replace_upload(reviewing, case_id, "handler_id", other)
    report = reviewing.wait_report(case_id, timeout=180)
    # Then the new file fails, and the other files' per-file findings are the first review's
    findings: list[dict] = report["findings"]  # type: ignore[assignment]
    assert report["decision"] == "rejected"
    assert {"rule": "ocr.handler", "slot": "handler_id", "status": "fail"}.items() <= next(
        f for f in findings if (f["rule"], f["slot"]) == ("ocr.handler", "handler_id")).items()
    others = [f for f in findings if f["rule"] in PER_FILE and f["slot"] not in (None, "handler_id")]
    assert others and all(f["evidence"]["reused_from"]["review_key"] == first.review_key for f in others)
    assert not [f for f in findings if f["slot"] == "handler_id" and "reused_from" in f["evidence"]]
    assert len(reviewing.store.reviews_of(case_id)) == 2



def test_the_worker_gives_the_review_the_other_orders_cases_that_hold_the_same_files(service: Service) -> None:
    # Given one order's case, then another order's case sent the same licence file
    first = service.submit({"application_form": PDF, "org_license": PNG + b"licence"}, order_no="00202612010000001")
    service.wait_report(first)
    second = service.submit({"application_form": PDF + b"2", "org_license": PNG + b"licence"},
                            order_no="00202612020000002")
    service.wait_report(second)
    # Then the first review knew of no other case, and the second was told where its licence was sent before
    review: FakeReview = service.review
    assert review.elsewhere[0] == {}
    assert review.elsewhere[1] == {hashlib.sha256(PNG + b"licence").hexdigest():
                                   [OtherUse(order_no="00202612010000001", slot="org_license",
                                             same_organisation=True)]}
