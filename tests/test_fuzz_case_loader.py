"""Fuzzing the case loader: mutated case.json bytes and structures give a Case or a CaseError, never
another exception, and whatever is accepted can be written out again as UTF-8 JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.casefolder import load_case_folder, parse_case_json
from pipeline.errors import CaseError
from pipeline.models import Case
from tests.casedata import BASE_CASE

pytestmark = pytest.mark.timeout(120)
CI_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = json.dumps(BASE_CASE, ensure_ascii=False).encode("utf-8")


def judge(raw: bytes) -> Case | CaseError:
    """The loader's answer; anything but a Case or a CaseError fails the property."""
    try:
        case = parse_case_json(raw)
    except CaseError as exc:
        assert exc.problems and all(isinstance(p, str) and isinstance(t, str) for p, t in exc.problems)
        exc.message.encode("utf-8")  # printable on any UTF-8 terminal
        return exc
    case.model_dump_json()  # what is accepted can be reported
    return case


# ---------------------------------------------------------------- byte mutations

def _flip(data: bytearray, where: int, bit: int) -> None:
    if data:
        data[where % len(data)] ^= 1 << bit


byte_edits = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("token"), st.integers(0, 1 << 20), st.sampled_from([
        b"1" * 5000, b"-0", b"1e999", b"NaN", b"Infinity", b"\\ud800", b'"\\u0000"', b"\xff\xfe", b"\xef\xbb\xbf",
        b"[" * 3000, b"{}", b"null", b"true", b'"' + "（".encode() + b'"', b"\x00", b"\\", b",,", b"}{"])),
)


def mutate_bytes(raw: bytes, edits: list[tuple[Any, ...]]) -> bytes:
    data = bytearray(raw)
    for edit in edits:
        size = max(len(data), 1)
        if edit[0] == "flip":
            _flip(data, edit[1], edit[2])
        elif edit[0] == "cut":
            del data[edit[1] % size:]
        elif edit[0] == "insert" or edit[0] == "token":
            data[edit[1] % size:edit[1] % size] = edit[2]
        elif edit[0] == "delete":
            del data[edit[1] % size:edit[1] % size + edit[2]]
    return bytes(data)


@CI_SETTINGS
@given(st.lists(byte_edits, min_size=1, max_size=6))
def test_mutated_case_json_bytes_give_a_case_or_a_case_error(edits: list[tuple[Any, ...]]) -> None:
    judge(mutate_bytes(GOOD, edits))


# ---------------------------------------------------------------- structure mutations

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True)
    | st.text(max_size=30) | st.sampled_from(["", " ", "2026-02-30T10:00:00+08:00", "2026-11-20T10:15:00",
                                              "00202009200000604", "０１２", "\u202e", "\ud800x"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    return out


@st.composite
def mutated_cases(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths)) if paths else ()
        parent: Any = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
        if not path or not isinstance(parent, dict):
            break
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            parent.pop(path[-1], None)
        elif action == "add":
            parent[draw(st.text(max_size=10))] = draw(json_values)
        else:
            parent[path[-1]] = [parent[path[-1]]]
    return data


@CI_SETTINGS
@given(mutated_cases())
def test_mutated_case_structures_give_a_case_or_a_case_error_naming_fields(data: dict[str, Any]) -> None:
    raw = json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
    answer = judge(raw)
    if isinstance(answer, CaseError):
        assert all(path for path, _ in answer.problems)


def test_the_unmutated_case_is_accepted() -> None:
    assert isinstance(judge(GOOD), Case)


def test_a_case_folder_with_odd_upload_names_is_read_or_refused_cleanly(tmp_path: Path) -> None:
    # Given a case folder whose uploads folder holds a sub-folder, a dot-file and two files of one slot
    (tmp_path / "case.json").write_bytes(GOOD)
    uploads = tmp_path / "uploads"
    (uploads / "seal_form.jpg").mkdir(parents=True)
    (uploads / ".hidden").write_bytes(b"x")
    (uploads / "handler_id.jpg").write_bytes(b"x")
    (uploads / "handler_id.png").write_bytes(b"x")
    # Then the loader refuses it with a CaseError naming the doubled slot
    with pytest.raises(CaseError, match="handler_id"):
        load_case_folder(tmp_path, {"seal_form", "handler_id"})


def test_a_5000_digit_number_is_a_case_error_not_a_value_error() -> None:
    # Found by the byte fuzzer: json.loads raises ValueError past Python's 4300-digit limit
    raw = GOOD.replace(b'"validity_months": 12', b'"validity_months": ' + b"1" * 5000)
    answer = judge(raw)
    assert isinstance(answer, CaseError) and "digits" in answer.message


def test_a_lone_surrogate_escape_is_refused_naming_its_field() -> None:
    # \ud800 parses to text that cannot be encoded as UTF-8: accepted, it would crash the report
    raw = GOOD.replace('"name": "沈阳示例科技有限公司"'.encode(), b'"name": "\\ud800"', 1)
    answer = judge(raw)
    assert isinstance(answer, CaseError) and answer.problems[0][0] == "org.name"
