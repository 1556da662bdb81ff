"""A value the first recogniser reads surely as something else, in a face it reads badly, passes
only when two recognisers of other kinds both read the entered characters there (PP-OCRv5 and
Tesseract); a document that does print the other character never passes that way.

渤 (渤海: common in Liaoning names and addresses) is read 潮 by RapidOCR's PP-OCRv4 in a Kai face;
the form here is the unseen set's tune-side recipe with an organisation made for this test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.scans import unseen
from pipeline.reading.matching import shows_where_disputed
from pipeline.review import review_case

ADDRESS = "辽宁省大连市沙河口区渤海明珠花园 12 号"
OTHER = ADDRESS.replace("渤", "潮")


def _case(out: Path, printed_address: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean v2 UKai case whose organisation's address holds 渤; the documents print
    ``printed_address`` while the entered address stays ``ADDRESS``."""
    org = unseen._org("大连渤海明珠装饰工程有限公司", "210204", "MA0P4Q7X", printed_address, "0411-84620915",
                      "吕建华", "大连市沙河口区市场监督管理局")
    monkeypatch.setitem(unseen.ORG, "test_mingzhu", org)
    base = unseen.UBase("c_v2_ukai", "test_mingzhu", "zhou", "gao", "dong", "00202612020000635",
                        "2026-12-02T09:40:00+08:00", 2, "ukai", dpi=200, quality=74, seed=7005)
    spec = unseen.USpec(f"corroborated_{'same' if printed_address == ADDRESS else 'other'}", "tune", base)
    folder = unseen.make_case(out, spec)
    case = json.loads((folder / "case.json").read_text("utf-8"))
    case["org"]["address"] = ADDRESS
    (folder / "case.json").write_text(json.dumps(case, ensure_ascii=False, indent=2), "utf-8")
    return folder


def _address(folder: Path) -> dict[str, Any]:
    report = review_case(folder)
    (finding,) = [f for f in report.findings if f.rule == "ocr.form_fields" and f.slot == "application_form"]
    (address,) = [x for x in finding.evidence["fields"] if x["field"] == "org.address"]
    return address


def test_an_address_the_first_reader_misreads_passes_when_two_other_readers_show_the_entered_characters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = _address(_case(tmp_path, ADDRESS, monkeypatch))
    # the first reading shows 潮 where 渤 is printed; the stronger reader and Tesseract read 渤 there
    assert "潮海" in address["first_reading"]["read"], address
    assert address["status"] == "pass", address
    assert address["reason"] == "two other recognisers read the entered value where the first differs"
    assert address["stronger_reading"]["read"].startswith("辽宁省大连市沙河口区渤海")
    assert min(address["stronger_reading"]["disputed_probabilities"]) >= 0.5
    assert "渤海" in address["second_opinion"]["read"]


def test_a_form_printing_the_look_alike_never_passes_for_the_entered_address(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = _address(_case(tmp_path, OTHER, monkeypatch))
    assert address["status"] != "pass", address


def test_the_other_reader_must_show_the_entered_character_at_every_place_in_dispute() -> None:
    first = "辽宁省大连市沙河口区潮海明珠花园12号"
    assert shows_where_disputed(ADDRESS, first, "过宁省大连市沙河口区渤海明珠花园12号", 0.8)  # its misread elsewhere
    assert not shows_where_disputed(ADDRESS, first, first, 0.8)
    assert not shows_where_disputed(ADDRESS, first, "渤", 0.8)  # a stray character is no reading of the value
    assert not shows_where_disputed(ADDRESS, ADDRESS, ADDRESS, 0.8)  # nothing in dispute: nothing to corroborate
    # a place whose neighbours the other reader misread too is not shown (no run of two around it)
    assert not shows_where_disputed("高海峰", "高海锋", "高每峰", 0.5)
    assert shows_where_disputed("高海峰", "高海锋", "高海峰", 0.5)

