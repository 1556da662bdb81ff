"""ID card copies: the handler's / employee's name and number, any rotation, foreign cards."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.scans.people import PEOPLE, Person
from pipeline.models import Finding, Status
from pipeline.reading.ocr import get_engine, unreadable_characters
from pipeline.stages import fields
from tests.casedata import BASE_CASE, make_ric
from tests.fields_samples import by_rule, fields_context, id_card, stamp

HANDLER = BASE_CASE["handler"]


def _review(image: np.ndarray, **changes: object) -> dict[tuple[str, str | None], Finding]:
    return by_rule(fields.run(fields_context({"handler_id": [image]}, **changes)))


def test_a_stamped_copy_of_the_handlers_card_passes_name_and_number() -> None:
    card = stamp(id_card(HANDLER["name"], HANDLER["id_number"]), (700, 300), 150)
    found = _review(card)
    assert found[("doc.kind", "handler_id")].status is Status.PASS
    f = found[("ocr.handler", "handler_id")]
    assert f.status is Status.PASS, f.evidence
    assert {x["field"] for x in f.evidence["fields"]} == {"handler.name", "handler.id_number"}
    assert all("box" in x and x["confidence"] > 0.8 for x in f.evidence["fields"])


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_card_scanned_turned_by_a_right_angle_is_read_upright(turn: int) -> None:
    found = _review(id_card(HANDLER["name"], HANDLER["id_number"], rotate=turn))
    assert found[("ocr.handler", "handler_id")].status is Status.PASS


def test_a_card_showing_another_valid_number_fails_with_both_numbers_in_evidence() -> None:
    other = make_ric("21010419750101003")
    f = _review(id_card(HANDLER["name"], other))[("ocr.handler", "handler_id")]
    assert f.status is Status.FAIL
    assert f.evidence["entered"] == HANDLER["id_number"] and f.evidence["read"] == other
    assert other in f.message and HANDLER["id_number"] in f.message


def test_a_card_of_another_person_fails_on_the_name() -> None:
    f = _review(id_card("王建国", HANDLER["id_number"]))[("ocr.handler", "handler_id")]
    assert f.status is Status.FAIL
    assert f.evidence["read"] == "王建国" and f.evidence["field"] == "姓名"


def test_a_card_showing_another_number_read_alike_by_both_engines_fails_even_with_a_wrong_check_digit() -> None:
    # Given a card printing the entered number with another last character (its check fails)
    number = HANDLER["id_number"]
    wrong = number[:17] + ("3" if number[17] != "3" else "4")
    f = _review(id_card(HANDLER["name"], wrong))[("ocr.handler", "handler_id")]
    # Then both engines read the other number alike: the document shows it — a fail, both reads shown
    assert f.status is Status.FAIL
    (num,) = [x for x in f.evidence["fields"] if x["field"] == "handler.id_number"]
    assert num["read"] == wrong and num["check_digit_valid"] is False and num["engines_agree"] is True
    assert wrong in num["second_opinion"]["read"]


def test_a_foreign_permanent_resident_card_fails_doc_kind_and_is_not_read_as_an_id_card() -> None:
    found = _review(id_card(HANDLER["name"], HANDLER["id_number"], foreign=True))
    kind = found[("doc.kind", "handler_id")]
    assert kind.status is Status.FAIL and "外国人永久居留身份证" in kind.message
    assert found[("ocr.handler", "handler_id")].status is Status.UNCERTAIN


def test_a_licence_uploaded_as_the_employees_card_fails_doc_kind_naming_it() -> None:
    from tests.fields_samples import licence

    ctx = fields_context({"employee_id": [licence(BASE_CASE["org"]["name"], BASE_CASE["org"]["id_number"])]})
    f = by_rule(fields.run(ctx))[("doc.kind", "employee_id")]
    assert f.status is Status.FAIL and "营业执照" in f.message


REAL_CARDS = ["idcard_chineseocr_1", "idcard_chineseocr_2", "idcard_shaojun427-idcard-ocr_1",
              "idcard_chinese_identity_ocr_1"]


@pytest.mark.parametrize("stem", REAL_CARDS)
def test_real_card_samples_are_read_and_judged_as_their_ground_truth_says(real_samples: Path, stem: str) -> None:
    truth = json.loads((real_samples / f"{stem}.json").read_text(encoding="utf-8"))
    image = cv2.imread(str(next(real_samples.glob(f"{stem}.[jp]*g"))))
    assert image is not None
    found = _review(image, **{"handler.name": truth["name"], "handler.id_number": truth["id_number"]})
    kind, shows = found[("doc.kind", "handler_id")], found[("ocr.handler", "handler_id")]
    if truth["kind"] != "id_card":  # the foreign card: not a resident ID card
        assert kind.status is Status.FAIL and shows.status is Status.UNCERTAIN
        return
    assert kind.status is Status.PASS
    reads = {x["field"]: x for x in shows.evidence["fields"]}
    assert reads["handler.name"]["score"] == 100.0
    number = reads["handler.id_number"]
    assert number["read"] == truth["id_number"]
    if truth["id_number_checksum_valid"]:
        assert shows.status is Status.PASS
    else:  # a wrong check digit is caught: never a pass, never a fail
        assert shows.status is Status.UNCERTAIN and number["check_digit_valid"] is False


def test_the_engine_chosen_by_option_does_the_reading() -> None:
    from pipeline.stages.base import ReviewOptions, StageContext

    base = fields_context({"handler_id": [id_card(HANDLER["name"], HANDLER["id_number"])]})
    ctx = StageContext(case=base.case, rules=base.rules, uploads=base.uploads,
                       options=ReviewOptions(ocr_engine="tesseract"))
    f = by_rule(fields.run(ctx))[("ocr.handler", "handler_id")]
    assert f.evidence["engine"] == "tesseract"
    (name,) = [x for x in f.evidence["fields"] if x["field"] == "handler.name"]
    assert name["status"] == "pass" and name["read"] == HANDLER["name"]


def test_a_name_the_fast_recogniser_cannot_read_is_read_by_the_stronger_one() -> None:
    # Given a handler named 王赟 (赟 is not among RapidOCR's 6,625 characters: it reads 赞 or the like)
    assert unreadable_characters(get_engine("auto"), ["王赟", "高海峰"]) == ["赟"]
    assert unreadable_characters(get_engine("tesseract"), ["王赟"]) == []  # its dictionary is not known
    assert get_engine("auto").stronger is not None  # PP-OCRv5's 18,383 characters hold 赟
    f = _review(id_card("王赟", HANDLER["id_number"]), **{"handler.name": "王赟"})[("ocr.handler", "handler_id")]
    # Then the stronger reader reads the card's name as entered, surely where the first reading differed
    assert f.status is Status.PASS, f.evidence
    (name,) = [x for x in f.evidence["fields"] if x["field"] == "handler.name"]
    assert name["stronger_reading"]["engine"] == "ppocrv5" and name["stronger_reading"]["read"] == "王赟"
    assert name["first_reading"]["read"] != "王赟"
    assert min(name["stronger_reading"]["disputed_probabilities"]) >= 0.9


def test_without_the_stronger_reader_a_name_the_recogniser_cannot_read_never_passes_and_the_clerk_is_told_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_engine("auto"), "stronger", None)
    f = _review(id_card("王赟", HANDLER["id_number"]), **{"handler.name": "王赟"})[("ocr.handler", "handler_id")]
    # Then the card's name cannot be shown to match — a clerk looks, told which character is the reason
    assert f.status is Status.UNCERTAIN, f.evidence
    assert f.evidence["unreadable_characters"] == ["赟"]
    # while a name the recogniser knows carries no such note
    assert "unreadable_characters" not in _review(id_card("王建国", HANDLER["id_number"]))[
        ("ocr.handler", "handler_id")].evidence


def test_a_difference_only_where_the_entered_name_has_an_unreadable_character_is_no_other_name() -> None:
    assert fields._differs_only_at("王赟华", "王赞华", {"赟"})
    assert not fields._differs_only_at("王赟华", "李赞华", {"赟"})  # another character differs too
    assert not fields._differs_only_at("王赟华", "王赞", {"赟"})


def test_a_card_printing_a_name_one_character_off_fails_when_the_stronger_reader_reads_it_alike() -> None:
    # Given a card that prints 李纳 for the entered handler 李娜 (a homophone: another person's name)
    f = _review(id_card("李纳", HANDLER["id_number"]))[("ocr.handler", "handler_id")]
    # Then both recognisers read 李纳 surely: the card shows another name — a fail, both readings shown
    assert f.status is Status.FAIL, f.evidence
    (name,) = [x for x in f.evidence["fields"] if x["field"] == "handler.name"]
    assert name["read"] == "李纳" and name["engines_agree"] is True
    assert name["stronger_reading"]["read"] == "李纳" and name["stronger_reading"]["least_probability"] >= 0.9


def test_a_card_printing_the_look_alike_of_a_character_the_first_reader_lacks_fails_if_the_stronger_reads_it() -> None:
    # Given the entered handler 王赟 and a card that prints 王赞 (another person: 赞 is what RapidOCR reads 赟 as)
    f = _review(id_card("王赞", HANDLER["id_number"]), **{"handler.name": "王赟"})[("ocr.handler", "handler_id")]
    (name,) = [x for x in f.evidence["fields"] if x["field"] == "handler.name"]
    # Then the stronger reader, whose dictionary holds 赟, reads 王赞 too: the card names another person
    assert name["stronger_reading"]["read"] == "王赞", name
    assert f.status is Status.FAIL and name["engines_agree"] is True, f.evidence


def _two_cards(first: Person, second: Person, seed: int = 8, stamped: bool = True) -> np.ndarray:
    """A sheet holding two people's cards (fixtures.scans.documents.two_cards_page), stamped once."""
    from fixtures.scans.documents import two_cards_page
    from fixtures.scans.imaging import draw_seal, mm_to_px
    from fixtures.scans.imaging import stamp as press

    rng = np.random.default_rng(seed)
    page = two_cards_page(first, second, 200, "sans", rng)
    if stamped:
        seal = draw_seal(BASE_CASE["org"]["name"], mm_to_px(42, 200), (200, 28, 38), rng=rng, face="serif-bold")
        page = press(page, seal, (mm_to_px(104, 200), mm_to_px(160, 200)), 10.0)
    return cv2.cvtColor(page, cv2.COLOR_RGB2BGR)


def _entered(handler: Person, user: Person) -> dict[str, str]:
    """The case's handler and employee as these people (case_dict's dotted changes)."""
    return {"handler.name": handler.name, "handler.id_number": handler.id_number,
            "user.name": user.name, "user.id_number": user.id_number}


def test_a_sheet_with_the_handlers_and_the_employees_cards_passes_in_both_slots() -> None:
    """Copied together, stamped once, the same file in both slots: whichever card is read first, each
    slot's person is on the sheet (rule set 13 failed the slot whose person's card came second)."""
    handler, user = PEOPLE[0], PEOPLE[1]
    sheet = _two_cards(user, handler)  # the employee's card first
    found = by_rule(fields.run(fields_context({"handler_id": [sheet], "employee_id": [sheet]},
                                              **_entered(handler, user))))
    for rule, slot in (("ocr.handler", "handler_id"), ("ocr.user", "employee_id")):
        assert found[(rule, slot)].status is Status.PASS, (rule, found[(rule, slot)].evidence)
    reasons = {x.get("reason") for x in found[("ocr.handler", "handler_id")].evidence["fields"]}
    assert "two cards on one sheet" in reasons


def test_a_sheet_with_the_handlers_card_and_someone_elses_still_fails_the_employee() -> None:
    handler, user, stranger = PEOPLE[0], PEOPLE[1], PEOPLE[2]
    sheet = _two_cards(handler, stranger)
    found = by_rule(fields.run(fields_context({"employee_id": [sheet]}, **_entered(handler, user))))
    assert found[("ocr.user", "employee_id")].status is Status.FAIL


def test_a_sheet_of_both_cards_whose_employee_card_shows_another_number_never_passes() -> None:
    from dataclasses import replace

    handler, user = PEOPLE[0], PEOPLE[1]
    n = user.id_number
    shown = replace(user, card_number=n[:15] + str((int(n[15]) + 2) % 10) + n[16:])  # one digit off
    page = _two_cards(handler, shown, seed=9, stamped=False)
    found = by_rule(fields.run(fields_context({"handler_id": [page], "employee_id": [page]},
                                              **_entered(handler, user))))
    assert found[("ocr.user", "employee_id")].status is not Status.PASS
    # and the handler's card on the same sheet passes, whichever number was read first
    assert found[("ocr.handler", "handler_id")].status is Status.PASS, found[("ocr.handler", "handler_id")].evidence
