"""Reading a seal's arc text: the polar unroll, where the strip starts, and real seals' names."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.scans.seals import NAMES, StampedSeal, near, stamped_seal
from pipeline.intake.pages import Page, estimate_a4_dpi
from pipeline.models import Case, Finding, Status
from pipeline.reading.matching import name_score
from pipeline.reading.ocr import get_engine
from pipeline.ruleset import load_rule_set
from pipeline.seal.arctext import ArcRead, _strip_ink, gap_angle, is_authority, read_arc, text_rows, unroll
from pipeline.seal.find import find_seals
from pipeline.stages.base import StageContext
from pipeline.stages.seal import (
    FoundSeal,
    NameOnSeals,
    _judge_name,
    _verdict,
    confirming_impression,
    core_name,
    judge_name_on_seals,
    read_name_on_seal,
    settle_across_impressions,
)
from tests.casedata import case_dict
from tests.test_seal_drawing import draw_seal, imread

DPI = 200


def read_line(strip: np.ndarray) -> tuple[str, float, tuple[float, ...]] | None:
    box = get_engine("rapidocr").read_line(strip)
    return None if box is None else (box.text, box.confidence, box.chars)


def seal_page(rotation: float = 0.0,
              text: str = "沈阳示例科技有限公司") -> tuple[np.ndarray, tuple[float, float], float]:
    page = np.full((700, 700, 3), 255, np.uint8)
    draw_seal(page, (350, 350), DPI, text=text, rotation_deg=rotation)
    return page, (350.0, 350.0), 42 / 25.4 * DPI / 2


def test_the_unrolled_strip_is_one_line_high_and_long_as_the_ring() -> None:
    page, centre, r = seal_page()
    strip = unroll(page, centre, r)
    assert strip.shape[0] == 48
    assert 8 < strip.shape[1] / strip.shape[0] < 20  # circumference over band height


def _inked_rows(strip: np.ndarray) -> float:
    """The share of the strip's rows between its first and last row inked over a tenth of its width."""
    rows = np.flatnonzero(_strip_ink(strip).mean(axis=1) > 0.1)
    return (rows[-1] + 1 - rows[0]) / strip.shape[0]


def test_the_strip_is_cut_to_its_glyphs_rows_so_they_stand_at_the_recognisers_height() -> None:
    # Given the band of a stamped seal unrolled twice the recogniser's height: the glyphs fill about half
    page, centre, r = seal_page()
    band = unroll(page, centre, r, height=96)
    assert _inked_rows(band) < 0.65
    # When it is cut to its glyphs' rows
    cut = text_rows(band)
    # Then the glyphs fill most of a strip of the recogniser's height
    assert cut.shape[0] == 48
    assert _inked_rows(cut) > 0.7
    # and a pen's line across the seal (a signature through it) does not widen the cut
    signed = band.copy()
    signed[:, band.shape[1] // 3:band.shape[1] // 3 + 3] = 0
    assert abs(text_rows(signed).shape[1] - cut.shape[1]) <= 2


def test_a_strip_the_glyphs_fill_is_kept_whole() -> None:
    strip = np.full((48, 400, 3), 255, np.uint8)
    strip[3:45:2, 10:390] = 40  # ink from top to bottom
    assert text_rows(strip).shape == (48, 400, 3)


@pytest.mark.parametrize("rotation", [0.0, 100.0, -150.0])
def test_the_gap_between_the_end_and_the_start_of_the_name_follows_a_turned_seal(rotation: float) -> None:
    # Given a seal turned by `rotation` (its name's gap is at the bottom, 90°, when upright)
    page, centre, r = seal_page(rotation)
    gap = gap_angle(page, centre, r)
    assert gap is not None
    assert abs((gap - (90 + rotation) + 180) % 360 - 180) < 25


@pytest.mark.parametrize("rotation", [0.0, 130.0])
def test_the_arc_text_of_a_stamped_seal_reads_as_the_organisation_name(rotation: float) -> None:
    page, centre, r = seal_page(rotation)
    reads = read_arc(page, centre, r, read_line)
    best = max(name_score("沈阳示例科技有限公司", x.text).score for x in reads)
    assert best >= 90, [x.text for x in reads]


def test_a_real_seal_photo_reads_as_its_organisation(real_samples: Path) -> None:
    image = imread(real_samples / "seal_getseal_source.png")
    seal = find_seals(image, image.shape[1] / 55 * 25.4)[0]
    reads = read_arc(image, seal.centre, seal.radius, read_line)
    assert max(name_score("北京中导开源科技有限公司", x.text).score for x in reads) >= 90


def test_a_real_licence_seal_reads_as_the_registration_authority(real_samples: Path) -> None:
    image = imread(real_samples / "license_cicba_1.png")
    seal = find_seals(image, estimate_a4_dpi(image.shape[1], image.shape[0]))[0]
    reads = read_arc(image, seal.centre, seal.radius, read_line)
    assert reads and is_authority(reads[0].text)
    assert "花都区工商行政管理局" in reads[0].text


def test_core_names_drop_place_names_and_company_forms() -> None:
    assert core_name("沈阳示例科技有限公司") == "沈阳示例科技"  # a bare city name is not known as one
    assert core_name("辽宁省沈阳市大东区某某贸易有限责任公司") == "某某贸易"
    assert core_name("中天运会计师事务所（特殊普通合伙）") == "中天运会计师事务所"
    assert core_name("北京公司") == "北京"  # nothing left after the place: keep it


@pytest.mark.parametrize(("read", "verdict"), [
    ("沈阳北方贸易有限公司", "different"),     # same city, another company
    ("東沈阳北方贸易有限公司", "different"),   # with a stray character read from the ring
    ("大连海港物流有限公司", "different"),
    ("沈阳示例科枝有限公司", "unknown"),       # our name, one character misread
    ("沈阳示例科技有限公", "unknown"),         # our name, cut short
    ("北方贸易", "unknown"),                   # no company form: not known to be a name
])
def test_only_a_confident_read_of_another_organisation_counts_as_different(read: str, verdict: str) -> None:
    params = load_rule_set().rule("seal.org_name").params
    assert _verdict("沈阳示例科技有限公司", [ArcRead(read, 0.95, 90.0, False)], params) == verdict
    assert _verdict("沈阳示例科技有限公司", [ArcRead(read, 0.5, 90.0, False)], params) == "unknown"


@pytest.mark.parametrize(("read", "verdict"), [
    ("连中会计事务所有", "unknown"),             # half the name read surely, the rest missed (an 82-dpi seal)
    ("大连中山会计事务所", "unknown"),           # a character dropped inside
    ("山会事粉所有限公司大通", "unknown"),       # five characters missed, one misread (务), ring bits after
    ("大连申山会计师事务所有限公司", "unknown"),  # one look-alike character: not sure enough to fail
    ("大连海港物流有限公司", "different"),       # another company altogether
])
def test_a_read_that_only_misses_characters_of_the_name_names_no_other_organisation(read: str, verdict: str) -> None:
    params = load_rule_set().rule("seal.org_name").params
    assert _verdict("大连中山会计师事务所有限公司", [ArcRead(read, 0.95, 90.0, False)], params) == verdict


@pytest.mark.parametrize(("read", "verdict"), [
    ("舟东市振兴区晨光会计师事务所(普通合伙)", "unknown"),  # our name, its first character misread
    ("丹东市振兴区鸭绿江律师事务所(普通合伙)", "different"),  # another firm of the same city
])
def test_a_partnership_name_is_read_to_its_end_not_to_its_first_company_form(read: str, verdict: str) -> None:
    params = load_rule_set().rule("seal.org_name").params
    assert _verdict("丹东市振兴区晨光会计师事务所（普通合伙）", [ArcRead(read, 0.95, 90.0, False)], params) == verdict


def _read(text: str, chars: list[float]) -> ArcRead:
    return ArcRead(text, sum(chars) / len(chars), 90.0, False, tuple(chars))


def _sure(text: str) -> ArcRead:
    return _read(text, [0.99] * len(text))


def _two_strips(name: str, other: str, shown_p: float, other_p: float) -> NameOnSeals:
    """The judgement of a seal read by two strips, the name's and another that differ at the third
    character only, read there ``shown_p`` and ``other_p`` surely (every other character 0.99)."""
    params = load_rule_set().rule("seal.org_name").params
    rest = [0.99] * (len(name) - 3)
    return judge_name_on_seals(name, [[_read(other, [0.99, 0.99, other_p, *rest]),
                                       _read(name, [0.99, 0.99, shown_p, *rest])]], params)


def test_a_strip_that_surely_shows_another_character_contests_the_name() -> None:
    judged = _two_strips("辽宁天成建设集团有限公司", "辽宁夫成建设集团有限公司", 0.99, 0.96)
    assert judged.status is Status.UNCERTAIN and judged.reason == "reads_disagree"
    assert judged.contested[0]["entered"] == "天" and judged.contested[0]["read"] == "夫"


def test_a_strip_that_reads_another_character_with_confidence_where_the_name_is_unsure_contests_it() -> None:
    judged = _two_strips("大连中山会计师事务所有限公司", "大连申山会计师事务所有限公司", 0.64, 0.80)  # a 申 read as 中
    assert judged.status is Status.UNCERTAIN


@pytest.mark.parametrize(("shown", "other", "status"), [
    (0.68, 0.58, Status.PASS),        # another reading below the floor and below the name's: doubt
    (0.95, 0.85, Status.PASS),        # the name's character read clearly outweighs a less sure other
    (0.805, 0.843, Status.UNCERTAIN),  # middling against a surer middling: the strips disagree
    (0.85, 0.75, Status.UNCERTAIN),   # another reading with confidence, the name's never read clearly
    (0.95, 0.93, Status.UNCERTAIN),   # another reading clearly
])
def test_a_character_read_otherwise_by_another_strip_is_weighed_against_the_reads_of_the_name(
        shown: float, other: float, status: Status) -> None:
    assert _two_strips("锦州渤海船舶配件有限公司", "锦州动海船舶配件有限公司", shown, other).status is status


def test_a_look_alike_read_by_a_strip_that_also_dropped_a_character_still_contests_the_name() -> None:
    # a Song-face seal printing 鞍山干山…: strips read the entered 千 at 0.68–0.77, another 鞍干山… (山
    # or 千 dropped, 干 at 0.79): which character it read as 干 is not known, so both placements are weighed
    params = load_rule_set().rule("seal.org_name").params
    name = "鞍山千山中药饮片厂"
    shown = _read(name, [0.99, 1.0, 0.77, 0.99, 0.99, 1.0, 0.33, 0.99, 0.99])
    other = _read("鞍干山中药饮片厂", [0.98, 0.79, 0.97, 0.81, 0.99, 0.54, 1.0, 0.95])
    judged = judge_name_on_seals(name, [[shown, other]], params)
    assert judged.status is Status.UNCERTAIN
    assert {(c["entered"], c["read"]) for c in judged.contested} == {("千", "干")}  # 山 was read clearly


def test_an_unsure_read_of_the_entered_character_does_not_confirm_it_against_a_surer_other_one() -> None:
    # the holdout seal of the seal bench printed 辽宁夫成…; one strip read 天 (entered) at 0.44, another 夫 at 0.59
    judged = _two_strips("辽宁天成建材有限公司", "辽宁夫成建材有限公司", 0.44, 0.59)
    assert judged.status is Status.UNCERTAIN and judged.reason == "reads_disagree"
    assert judged.contested[0]["entered"] == "天" and judged.contested[0]["read"] == "夫"


def test_strips_that_disagree_are_settled_by_a_sure_read_of_another_impression_of_the_same_seal() -> None:
    params = load_rule_set().rule("seal.org_name").params
    entered = "锦州渤海船舶配件有限公司"
    shown = _read(entered, [0.99, 0.99, 0.58] + [0.99] * 9)
    judged = judge_name_on_seals(entered, [[shown, _read("锦州动海船舶配件有限公司", [0.99, 0.99, 0.68] + [0.99] * 9)]],
                                 params)
    assert judged.status is Status.UNCERTAIN and [c["position"] for c in judged.contested] == [2]
    sure, unsure = [0.99, 0.99, 0.95] + [0.99] * 9, [0.99, 0.99, 0.86] + [0.99] * 9
    confirm, same_mm = float(params["confirm_confidence"]), float(params["same_seal_mm"])

    def confirmed(*others: tuple[str, list[float], float]) -> str | None:
        return confirming_impression([2], 40.3, others, confirm, same_mm)

    assert confirmed(("org_license", unsure, 40.2), ("authorization", sure, 40.4)) == "authorization"
    assert confirmed(("org_license", unsure, 40.2)) is None                 # 渤 read there too unsurely
    assert confirmed(("authorization", sure, 46.0)) is None                 # another, larger seal
    assert confirmed(("authorization", [0.99, 0.99, 0.0] + [0.99] * 9, 40.3)) is None  # reads another character


def test_a_misread_the_name_reads_surely_otherwise_does_not_contest_it() -> None:
    params = load_rule_set().rule("seal.org_name").params
    shown = _sure("阜新蒙泰新能源有限公司")
    weak = _read("阜新豪泰新能源有限公司", [0.99, 0.99, 0.76] + [0.99] * 8)  # 豪 less sure than 蒙
    cut = _read("司东鸭绿江食品有限公", [0.99] * 10)  # the strip began inside the name: its ends are cut glyphs
    assert judge_name_on_seals("阜新蒙泰新能源有限公司", [[shown, weak]], params).status is Status.PASS
    assert judge_name_on_seals("丹东鸭绿江食品有限公司", [[_sure("丹东鸭绿江食品有限公司"), cut]],
                               params).status is Status.PASS


def test_a_line_of_unsure_misread_glyphs_is_not_another_organisation() -> None:
    params = load_rule_set().rule("seal.org_name").params
    garbled = _read("就阳我方董工配件有限公司", [0.6, 0.99, 0.5, 0.99, 0.55] + [0.99] * 7)
    assert _verdict("沈阳北方重工配件有限公司", [garbled], params) == "unknown"
    other = _sure("辽宁宏图建设集团有限公司")  # the example: another organisation, read surely
    assert _verdict("沈阳宏图建设工程有限公司", [other], params) == "different"


def _judged(seal: StampedSeal, params: Mapping[str, Any]) -> tuple[NameOnSeals, list[ArcRead]]:
    """seal.org_name's judgement of one stamped seal: the strongest red seal found, read and judged."""
    found = [c for c in find_seals(seal.image, seal.dpi) if c.colour == "red"]
    reads = read_name_on_seal(seal.image, max(found, key=lambda c: c.score), seal.name, get_engine("auto"), params)
    return judge_name_on_seals(seal.name, [reads], params), reads


@pytest.mark.parametrize(("name", "seed"), [("鞍山千山中药饮片厂", 0), ("大连中山会计师事务所有限公司", 1)])
def test_a_seal_of_an_organisation_one_character_away_never_passes(name: str, seed: int) -> None:
    # Given four stamped, scanned seals of the changed name (干山, 申山: one of each passed before
    # the strips were compared character by character)
    params = load_rule_set().rule("seal.org_name").params
    rng = np.random.default_rng([seed, NAMES.index(name)])
    for _ in range(4):
        stamped_seal(name, name, rng)  # the right name's seal comes first in the bench's stream
        judged, reads = _judged(stamped_seal(name, near(name), rng), params)
        # Then the applicant's name is never passed
        assert judged.status is not Status.PASS, [r.text for r in reads]


def test_the_seals_of_a_right_name_pass() -> None:
    name = "大连港湾物流有限公司"
    params = load_rule_set().rule("seal.org_name").params
    rng = np.random.default_rng([0, NAMES.index(name)])
    passed = 0
    for _ in range(4):
        seal = stamped_seal(name, name, rng)
        stamped_seal(name, near(name), rng)
        passed += _judged(seal, params)[0].status is Status.PASS
    assert passed >= 3


def _right_seal_after(name: str, seed: int, pairs: int) -> tuple[StampedSeal, np.random.Generator]:
    """The seal bench's stream for ``name`` and ``seed`` (bench/seal_text.py): the right seal after
    ``pairs`` right and changed ones, and the stream, whose next seal is that one's changed twin."""
    rng = np.random.default_rng([seed, NAMES.index(name)])
    for _ in range(pairs):
        stamped_seal(name, name, rng), stamped_seal(name, near(name), rng)
    return stamped_seal(name, name, rng), rng


def test_a_150_dpi_seal_whose_whole_band_reads_unsurely_passes_by_the_first_reader() -> None:
    # Given a scanned 150-dpi seal of 营口港澳国际货运代理有限公司 whose whole band (the glyphs at half
    # the recogniser's height) PP-OCRv4's strips read otherwise, the third of seed 0's stream
    name = "营口港澳国际货运代理有限公司"
    params = load_rule_set().rule("seal.org_name").params
    seal, rng = _right_seal_after(name, seed=0, pairs=2)
    assert seal.dpi == 150
    # Then its strips cut to the glyphs' rows show the name to the first reader alone, uncontested
    _, reads = _judged(seal, params)
    assert judge_name_on_seals(name, [[r for r in reads if not r.reader]], params).status is Status.PASS
    # and the look-alike seal of the same stream is not passed
    assert _judged(stamped_seal(name, near(name), rng), params)[0].status is not Status.PASS


def _second(text: str, chars: list[float]) -> ArcRead:
    return ArcRead(text, sum(chars) / len(chars), 90.0, False, tuple(chars), reader="ppocrv6")


BOHAI = "锦州渤海船舶配件有限公司"


@pytest.mark.parametrize(("first_p", "second_p", "other_second", "status"), [
    (0.52, 0.97, None, Status.PASS),           # 渤 read 潮 unsurely by the first, surely as entered by the second
    (0.86, 0.97, None, Status.UNCERTAIN),      # the first reads 潮 with confidence: a look-alike seal reads so
    (0.52, 0.85, None, Status.UNCERTAIN),      # the second is not sure of 渤 either
    (0.52, 0.97, 0.95, Status.UNCERTAIN),      # another strip of the second reads 潮 clearly
])
def test_the_second_seal_reader_settles_only_what_the_first_read_unsurely(
        first_p: float, second_p: float, other_second: float | None, status: Status) -> None:
    params = load_rule_set().rule("seal.org_name").params
    first = [_read("锦州潮海船舶配件有限公司", [0.99, 0.99, first_p] + [0.99] * 9),
             _read("锦州海船舶配件有限公司", [0.99] * 11)]  # a strip that dropped it
    second = [_second(BOHAI, [0.99, 0.99, second_p] + [0.99] * 9)]
    if other_second is not None:
        second.append(_second("锦州潮海船舶配件有限公司", [0.99, 0.99, other_second] + [0.99] * 9))
    judged = judge_name_on_seals(BOHAI, [first + second], params)
    assert judged.status is status
    if status is Status.PASS:
        assert judged.shown is not None and judged.shown.reader == "ppocrv6"
    # the first reader's reads alone leave it to a clerk, as before the second reader
    assert judge_name_on_seals(BOHAI, [first], params).status is Status.UNCERTAIN


def test_the_second_seal_reader_never_outweighs_a_first_read_that_contests_the_name_with_confidence() -> None:
    # the first reader shows the name on one strip and reads 潮 surely on another: the strips disagree,
    # and a sure read of the second reader does not settle that (only another impression may)
    params = load_rule_set().rule("seal.org_name").params
    other = _read("锦州潮海船舶配件有限公司", [0.99, 0.99, 0.95] + [0.99] * 9)
    reads = [_sure(BOHAI), other, _second(BOHAI, [0.99] * 12)]
    judged = judge_name_on_seals(BOHAI, [reads], params)
    assert judged.status is Status.UNCERTAIN and judged.reason == "reads_disagree"


def test_a_stamped_seal_the_first_reader_reads_unsurely_passes_by_the_second_reader() -> None:
    # Given a scanned 200-dpi seal of 鞍山千山中药饮片厂 whose strips PP-OCRv4 reads 鞍由千山… (山 unsure)
    name = "鞍山千山中药饮片厂"
    params = load_rule_set().rule("seal.org_name").params
    seal, rng = _right_seal_after(name, seed=1, pairs=3)
    judged, reads = _judged(seal, params)
    # Then the second reader (PP-OCRv6) shows it surely, and the judgement says which reader did
    assert judge_name_on_seals(name, [[r for r in reads if not r.reader]], params).status is Status.UNCERTAIN
    assert judged.status is Status.PASS and judged.shown is not None and judged.shown.reader == "ppocrv6"
    # and the finding says so, the first reader's reads and the second's side by side for the clerk
    ctx = StageContext(case=Case.model_validate(case_dict()), rules=load_rule_set(), uploads={})
    found = FoundSeal(Page(0, seal.image, seal.dpi, "metadata"),
                      max((c for c in find_seals(seal.image, seal.dpi) if c.colour == "red"), key=lambda c: c.score))
    finding = _judge_name(ctx, "application_form", name, [(found, reads)], judged)
    assert finding.status is Status.PASS and finding.evidence["second_reader"] == "ppocrv6"
    shown = finding.evidence["seals"][0]["reads"]
    assert any(r.get("reader") == "ppocrv6" for r in shown) and any("reader" not in r for r in shown)
    # and the look-alike seal of the same stream (干山) is not passed by either
    twin = stamped_seal(name, near(name), rng)
    assert _judged(twin, params)[0].status is not Status.PASS


def test_the_case_settles_a_disagreeing_seal_by_its_other_impressions_and_unsettles_it_when_they_go() -> None:
    ctx = StageContext(case=Case.model_validate(case_dict()), rules=load_rule_set(), uploads={})

    def org_name(slot: str, status: Status, **evidence: Any) -> Finding:
        return ctx.finding("seal.org_name", status, slot, {"read": "…", "diameter_mm": 40.3, **evidence})

    disagreeing = org_name("handler_id", Status.UNCERTAIN, reason="reads_disagree", contested_positions=[2],
                           name_probabilities=[0.99, 0.99, 0.58, 0.99])
    unsure = org_name("org_license", Status.PASS, name_probabilities=[0.99, 0.99, 0.61, 0.99])
    sure = org_name("authorization", Status.PASS, name_probabilities=[0.99, 0.99, 0.95, 0.99])
    present = ctx.finding("seal.present", Status.PASS, "handler_id", {})
    # one impression reads the contested character surely: the seal is settled, the clerk sees by which
    settled = settle_across_impressions(ctx, [present, disagreeing, unsure, sure])
    assert [f.status for f in settled] == [Status.PASS] * 4
    assert settled[1].evidence["confirmed_by"] == {"slot": "authorization", "read": "…", "diameter_mm": 40.3,
                                                   "probabilities": {"2": 0.95}}
    assert settled[1].message == org_name("handler_id", Status.PASS).message and settled[0] is present
    # a re-review without that impression (its upload replaced by a worse one) unsettles it again
    again = settle_across_impressions(ctx, [settled[1], unsure])
    assert again[0].status is Status.UNCERTAIN and "confirmed_by" not in again[0].evidence
    assert again[0].evidence["reason"] == "reads_disagree" and again[0].message == disagreeing.message
    # an impression of another size (another seal) or one settled itself by others settles nothing
    assert settle_across_impressions(ctx, [disagreeing, org_name("authorization", Status.PASS, diameter_mm=45.0,
                                                                 name_probabilities=[0.99] * 4)])[0].status \
        is Status.UNCERTAIN
    assert settle_across_impressions(ctx, [disagreeing, settled[1]])[0].status is Status.UNCERTAIN


def test_a_seal_cut_in_traditional_glyphs_of_the_name_is_that_name_never_another() -> None:
    # Given four stamped, scanned seals of the entered 大连银河电器有限公司 cut as 大連銀河電器有限公司
    # (the recogniser reads 銀, 電 as cut: before the fold no seal passed, and a read 鞍山鐵段流… of
    # another such seal named another organisation: a fail)
    params = load_rule_set().rule("seal.org_name").params
    rng = np.random.default_rng(7)
    statuses = []
    for _ in range(4):
        judged, _ = _judged(stamped_seal("大连银河电器有限公司", "大連銀河電器有限公司", rng), params)
        statuses.append(judged.status)
    # Then none fails, and the seals read clearly pass
    assert Status.FAIL not in statuses
    assert statuses.count(Status.PASS) >= 2, statuses
