"""Hostile uploads through the API with the real ``review_case``: each file is stored exactly as
sent and becomes findings — never a 500, never a case stored half."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.service.config import ServiceSettings
from pipeline.service.store import Store
from pipeline.worker.actors import review_folder
from tests import uploadfiles
from tests.casedata import case_dict
from tests.servicekit import Service, running_service

pytestmark = pytest.mark.slow


@pytest.fixture()
def real(tmp_path: Path) -> Iterator[Service]:
    store = Store.open(ServiceSettings(database_url=f"sqlite:///{tmp_path / 'precheck.db'}", broker_url=None,
                                       blob_store="directory", blob_dir=tmp_path / "blobs"))
    yield from running_service(store, review_folder)  # the real review_case
    store.engine.dispose()


def test_hostile_files_through_the_api_become_findings_not_errors(real: Service) -> None:
    # Given a case whose slots hold an empty file, a zip, a decompression bomb, an encrypted
    # PDF, a JPEG/PDF polyglot and a PNG named .pdf
    hostile = {
        "application_form": b"",
        "seal_form": uploadfiles.zip_file(),
        "authorization": uploadfiles.bomb_png(),
        "org_license": uploadfiles.encrypted_pdf(),
        "handler_id": uploadfiles.polyglot_jpeg_pdf(),
        "employee_id": uploadfiles.png(),
    }
    names = {"application_form": "form.pdf", "seal_form": "seal.jpg", "authorization": "auth.png",
             "org_license": "licence.pdf", "handler_id": "id.jpg", "employee_id": "id.pdf"}
    files = [("case", ("case.json", json.dumps(case_dict(), ensure_ascii=False).encode()))]
    files += [(slot, (names[slot], data)) for slot, data in hostile.items()]
    # When it is submitted
    answer = real.client.post("/api/cases", files=files, headers=real.auth())
    assert answer.status_code == 202, answer.text
    case_id = answer.json()["id"]
    report = real.wait_report(case_id, timeout=120)
    # Then every file is kept byte for byte and the review says what is wrong with each
    stored = real.store.current_uploads(case_id)
    for slot, data in hostile.items():
        assert real.store.blobs.get(stored[slot].sha256) == data
    findings: list[dict[str, str]] = report["findings"]  # type: ignore[assignment]
    failed = {(f["rule"], f["slot"]) for f in findings if f["status"] == "fail"}
    assert report["decision"] == "rejected"
    assert {("upload.empty", "application_form"), ("upload.format", "seal_form"),
            ("upload.unreadable", "org_license"), ("upload.format", "employee_id")} <= failed
