"""A case that cannot be read exits 3 with one line per problem naming the field — never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.casefolder import load_case_folder, parse_case_json
from pipeline.errors import CaseError
from tests.casedata import BASE_CASE, case_dict, write_case

SLOTS = {"application_form", "seal_form"}


def problems_of(raw: bytes) -> list[tuple[str, str]]:
    with pytest.raises(CaseError) as caught:
        parse_case_json(raw)
    return caught.value.problems


def encode(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def test_a_valid_case_json_loads_into_the_case_model() -> None:
    case = parse_case_json(encode(BASE_CASE))
    assert case.order_no == "00202009200000604" and case.is_paid


def test_a_missing_field_is_named_by_its_path() -> None:
    problems = problems_of(encode(case_dict(**{"handler.id_number": None})))
    assert problems == [("handler.id_number", "必填字段缺失 / field required")]


def test_every_problem_is_listed_not_only_the_first() -> None:
    problems = problems_of(encode(case_dict(**{"org.name": 5, "user.gender": "unknown", "remark": None})))
    assert {path for path, _ in problems} == {"org.name", "user.gender", "remark"}


def test_an_unknown_key_is_rejected() -> None:
    assert problems_of(encode(case_dict(**{"org.fax": "024"})))[0][0] == "org.fax"


@pytest.mark.parametrize(
    "change",
    [{"business_type": "buy"}, {"payment.method": "cash"}, {"validity_months": "12"},
     {"submitted_at": "2026-11-20T10:15:00"}, {"order_no": "0020200920000060"}],
)
def test_a_wrong_type_enum_or_format_is_rejected(change: dict[str, object]) -> None:
    assert problems_of(encode(case_dict(**change)))[0][0] == next(iter(change))


def test_absent_payment_means_unpaid() -> None:
    assert not parse_case_json(encode(case_dict(payment=None))).is_paid


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{not json", "JSON"), ("{}".encode("utf-16"), "UTF-8"), (b"[1, 2]", "对象"), (b"[" * 100000, "JSON")],
)
def test_bytes_that_are_not_a_json_object_are_named_clearly(raw: bytes, fragment: str) -> None:
    assert fragment in problems_of(raw)[0][1]


def test_two_files_for_one_slot_make_the_folder_unreadable(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "c", uploads={"seal_form.jpg": b"x", "seal_form.pdf": b"y"})
    with pytest.raises(CaseError) as caught:
        load_case_folder(folder, SLOTS)
    assert caught.value.problems[0][0] == "uploads/seal_form"


def test_files_of_unknown_slots_are_ignored_and_listed(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "c", uploads={"seal_form.jpg": b"x", "notes.txt": b"y"})
    loaded = load_case_folder(folder, SLOTS)
    assert set(loaded.uploads) == {"seal_form"} and loaded.ignored == ("notes.txt",)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=120)


def test_the_cli_exits_3_naming_the_field_without_a_traceback(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "broken", case_dict(**{"handler.id_number": None}))
    result = run_cli("review", str(folder), "--json")
    assert result.returncode == 3
    assert "handler.id_number: 必填字段缺失 / field required" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_folder_of_cases_names_the_unreadable_one_and_still_reviews_the_others(tmp_path: Path) -> None:
    write_case(tmp_path / "cases" / "a-broken", case_dict(**{"org.name": None}))
    write_case(tmp_path / "cases" / "b-fine")
    result = run_cli("review", str(tmp_path / "cases"), "--json")
    assert result.returncode == 3
    assert "a-broken" in result.stderr and "org.name" in result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["case_name"] for r in reports] == ["b-fine"]
    assert reports[0]["decision"] == "rejected"  # every required upload is missing
