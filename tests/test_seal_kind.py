"""The official seal, not a special-purpose one: the line under a seal's star (合同专用章 …) is
read on real and drawn seals, at any angle, and what it says decides ``seal.present``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.scans.imaging import draw_seal, mm_to_px, scan, seal_line, stamp
from fixtures.scans.seals import NAMES, stamped_seal
from pipeline.intake.pages import estimate_a4_dpi
from pipeline.reading.ocr import get_engine
from pipeline.ruleset import load_rule_set
from pipeline.seal.band import LineRead, line_direction, read_line_under_star
from pipeline.seal.find import SealCandidate, find_seals
from pipeline.stages.seal import _line_reader, seal_kind
from tests.test_seal_drawing import imread

PARAMS = load_rule_set().rule("seal.present").params
TUNE_NAMES = NAMES[0::2]


def reads_of(image: np.ndarray, seal: SealCandidate) -> list[LineRead]:
    engine = get_engine("auto")
    readers = [_line_reader(e) for e in (engine, engine.stronger) if e is not None]
    return read_line_under_star(image, seal.centre, seal.radius, readers)


def red_seals(image: np.ndarray, dpi: float) -> list[SealCandidate]:
    return sorted((s for s in find_seals(image, dpi) if s.colour == "red"), key=lambda s: s.centre[0])


def test_a_real_finance_seal_is_special_and_the_same_companys_official_seal_is_not(real_samples: Path) -> None:
    # SealCut's photo: the company's 公章 (left) and its 财务专用章 (middle), scanned together
    image = imread(real_samples / "seal_sealcut_three.jpg")
    official, finance = red_seals(image, image.shape[1] / 200 * 25.4)
    assert reads_of(image, official) == []
    kind, read = seal_kind(reads_of(image, finance), PARAMS)
    assert kind == "special" and read is not None and "专用" in read.text


@pytest.mark.parametrize("name", ["seal_getseal_source.png", "stamped_seal_removal_1.jpg"])
def test_real_official_seals_show_no_line_under_the_star(real_samples: Path, name: str) -> None:
    image = imread(real_samples / name)
    dpi = image.shape[1] / 55 * 25.4 if name.startswith("seal_") else estimate_a4_dpi(image.shape[1], image.shape[0])
    seals = red_seals(image, dpi)
    assert seals and all(seal_kind(reads_of(image, s), PARAMS) == ("official", None) for s in seals)


@pytest.mark.parametrize(("seed", "purpose"), [(0, "合同专用章"), (1, "财务专用章"), (2, "人事专用章"),
                                               (3, "业务专用章")])
def test_a_drawn_special_seal_is_special(seed: int, purpose: str) -> None:
    rng = np.random.default_rng(seed)
    stamped = stamped_seal(TUNE_NAMES[seed], TUNE_NAMES[seed], rng, purpose=purpose,
                           serial="3701020012345" if seed % 2 else "")
    (seal,) = red_seals(stamped.image, stamped.dpi)
    kind, read = seal_kind(reads_of(stamped.image, seal), PARAMS)
    assert kind == "special", read


@pytest.mark.parametrize("angle", [0.0, 75.0, 150.0, -110.0])
def test_the_line_under_the_star_is_found_and_read_upright_at_any_angle(angle: float) -> None:
    dpi = 200
    page = np.full((mm_to_px(60, dpi), mm_to_px(60, dpi), 3), 255, np.uint8)
    rng = np.random.default_rng(7)
    drawn = draw_seal("沈阳示例科技有限公司", mm_to_px(42, dpi), rng=rng, serial="2101020098765",
                      **seal_line("合同专用章", rng))
    centre = (page.shape[1] / 2, page.shape[0] / 2)
    image = cv2.cvtColor(scan(stamp(page, drawn, centre, angle), dpi, rng=rng), cv2.COLOR_RGB2BGR)
    (seal,) = red_seals(image, dpi)
    bottom = line_direction(image, seal.centre, seal.radius)
    # stamp turns the seal counter-clockwise by `angle`: its bottom (90°, image coordinates) with it
    assert bottom is not None and abs((bottom - (90 - angle) + 180) % 360 - 180) < 12
    assert seal_kind(reads_of(image, seal), PARAMS)[0] == "special"


@pytest.mark.parametrize("seed", range(6))
def test_a_drawn_official_seal_shows_no_line_with_or_without_a_serial(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    stamped = stamped_seal(TUNE_NAMES[seed], TUNE_NAMES[seed], rng, serial="2101020098765" if seed % 2 else "")
    (seal,) = red_seals(stamped.image, stamped.dpi)
    assert line_direction(stamped.image, seal.centre, seal.radius) is None


def line(text: str, chars: Sequence[float]) -> LineRead:
    return LineRead(text, float(np.mean(chars)), tuple(chars), 90.0)


@pytest.mark.parametrize(("reads", "kind"), [
    ([line("合同专用章", [0.99, 0.98, 0.97, 0.99, 0.95])], "special"),
    ([line("务专用", [0.9, 0.95, 0.93])], "special"),                     # the word read, its ends missed
    ([line("合同专用章", [0.99, 0.98, 0.6, 0.99, 0.95])], "maybe"),        # 专 read unsurely
    ([line("人事用章", [0.9, 0.9, 0.9, 0.9])], "maybe"),                   # part of the word
    ([line("企业登记专用章", [0.99] * 7)], "official"),                    # a licence's registration seal
    ([line("2101020098765", [0.99] * 13)], "official"),                   # a serial number read
    ([], "official"),
])
def test_what_the_line_under_the_star_makes_a_seal(reads: list[LineRead], kind: str) -> None:
    assert seal_kind(reads, PARAMS)[0] == kind
