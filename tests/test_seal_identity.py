"""One seal's impressions on several uploads: compared as images (pipeline.seal.identity), and an
impression read unsurely settled by one of the same seal read surely (seal.org_name)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.scans.seals import StampedSeal, stamped_seal
from pipeline.intake.pages import Page, Upload
from pipeline.models import Case, Finding, Status
from pipeline.ruleset import load_rule_set
from pipeline.seal.find import SealCandidate, find_seals
from pipeline.seal.identity import compare_impressions
from pipeline.stages.base import Artifacts, StageContext
from pipeline.stages.seal import settle_across_impressions
from tests.casedata import case_dict

NAME, OTHER = "大连港湾物流有限公司", "抚顺石化工程设计院有限公司"


def _seal(printed: str, seed: int, face: str = "serif-bold") -> tuple[StampedSeal, SealCandidate]:
    stamped = stamped_seal(printed, printed, np.random.default_rng(seed), face, mm=41.0)
    found = [c for c in find_seals(stamped.image, stamped.dpi) if c.colour == "red"]
    return stamped, max(found, key=lambda c: c.score)


def _match(a: tuple[StampedSeal, SealCandidate], b: tuple[StampedSeal, SealCandidate]) -> float:
    return compare_impressions(a[0].image, a[1].centre, a[1].radius, b[0].image, b[1].centre, b[1].radius).correlation


@pytest.mark.parametrize("face", ["serif-bold", "uming"])
def test_two_impressions_of_one_seal_correlate_and_another_organisations_seal_does_not(face: str) -> None:
    # Given three impressions: two of one seal (other ink, turn, resolution, scan), one of another organisation's
    first, second, other = _seal(NAME, 1, face), _seal(NAME, 2, face), _seal(OTHER, 3, face)
    bar = float(load_rule_set().rule("seal.org_name").params["same_seal_correlation"])
    # Then the two of one seal correlate above the rule set's bar once turned onto each other, with room to spare
    assert _match(first, second) >= bar + 0.1
    # and the other organisation's seal (another name, another layout) stays far below it, either way round
    assert _match(first, other) <= bar - 0.2 and _match(other, first) <= bar - 0.2


def _upload(slot: str, seal: StampedSeal) -> Upload:
    return Upload(slot, Path(f"{slot}.png"), 0, hashlib.sha256(seal.image.tobytes()).hexdigest(), ".png", "png",
                  (Page(0, seal.image, float(seal.dpi), "metadata"),))


def _circle(seal: SealCandidate) -> dict[str, Any]:
    return {"page": 0, "centre": list(seal.centre), "radius": seal.radius}


Reads = list[tuple[str, list[float]]]


def _settled(anchor: tuple[StampedSeal, SealCandidate], unsure: tuple[StampedSeal, SealCandidate], reads: Reads,
             anchor_probabilities: list[float] | None = None, reason: str = "read_otherwise",
             name: str = NAME, artifacts: Path | None = None) -> Finding:
    """seal.org_name of ``handler_id`` (its seal's strips read as ``reads``: text, each character's
    probability) after the case settles it against ``authorization``, whose seal showed the name with
    ``anchor_probabilities``."""
    ctx = StageContext(case=Case.model_validate(case_dict()), rules=load_rule_set(),
                       uploads={"authorization": _upload("authorization", anchor[0]),
                                "handler_id": _upload("handler_id", unsure[0])}, artifacts=Artifacts(artifacts))
    sure = ctx.finding("seal.org_name", Status.PASS, "authorization", {
        "entered": name, "read": name, "diameter_mm": 41.0, "impression": _circle(anchor[1]),
        "name_probabilities": anchor_probabilities or [0.99] * len(name)})
    seals = [{**_circle(unsure[1]), "bbox": list(unsure[1].bbox), "authority": False,
              "reads": [{"text": text, "confidence": 0.9, "chars": chars} for text, chars in reads]}]
    uncertain = ctx.finding("seal.org_name", Status.UNCERTAIN, "handler_id",
                            {"entered": name, "read": reads[0][0], "seals": seals, "reason": reason})
    return settle_across_impressions(ctx, [sure, uncertain])[1]


def test_an_impression_read_unsurely_passes_as_the_same_seal_as_one_read_surely_and_only_so(tmp_path: Path) -> None:
    anchor, unsure, other = _seal(NAME, 1), _seal(NAME, 2), _seal(OTHER, 3)
    # Given the handler's ID copy whose seal's strips read 港 as 巷 unsurely (0.55) in one, the name but 公 in
    # another, and the authorization's seal that read the name surely
    misread = ("大连巷湾物流有限公司", [0.99, 0.99, 0.55] + [0.99] * 7)
    leaning = [misread, ("大连港湾物流有限司", [0.99] * 9)]
    settled = _settled(anchor, unsure, leaning, artifacts=tmp_path)
    # Then it passes as the same seal, saying which upload's impression and how alike the two are, with
    # that impression's crop for the clerk to hold beside this one
    assert settled.status is Status.PASS and settled.evidence["reason"] == "same_seal_as_another_impression"
    assert settled.evidence["same_seal_as"]["slot"] == "authorization"
    assert settled.evidence["same_seal_as"]["correlation"] >= 0.8
    assert settled.evidence["read_reason"] == "read_otherwise"
    assert (tmp_path / settled.evidence["same_seal_as"]["crop"]).is_file()
    # But not when no strip reads 港 as entered (a seal of a name one look-alike away reads so)
    assert _settled(anchor, unsure, [misread]).status is Status.UNCERTAIN
    # nor when a strip shows another character with confidence
    assert _settled(anchor, unsure, [("大连巷湾物流有限公司", [0.99, 0.99, 0.8] + [0.99] * 7), leaning[1]]
                    ).status is Status.UNCERTAIN
    # nor when the impression is another organisation's seal, whatever its reads
    assert _settled(anchor, other, leaning).status is Status.UNCERTAIN
    # nor when the impression that passed read a character of the name less than surely itself
    assert _settled(anchor, unsure, leaning, [0.99] * 9 + [0.85]).status is Status.UNCERTAIN
    # nor when its reads show little of the name (fragments)
    assert _settled(anchor, unsure, [("物流有限", [0.99] * 4), ("大连港湾", [0.99] * 4)]).status is Status.UNCERTAIN
    # a seal's bracket read as 人 surely is no other organisation (brackets tell none apart)
    long_name = "中铁九局集团（沈阳）物资贸易有限公司"
    read_人 = ("中铁九局集团人沈阳)物资贸易有限公司", [0.98, 0.99, 0.98, 0.98, 0.99, 0.99, 0.83] + [0.99] * 11)
    bracketed = _settled(_seal(long_name, 4), _seal(long_name, 5), [read_人], name=long_name)
    assert bracketed.status is Status.PASS
    # nor when only the registration authority's seal was found on the upload
    assert _settled(anchor, unsure, leaning, reason="authority_seal_only").status is Status.UNCERTAIN


def test_a_slot_settled_as_the_same_seal_is_unsettled_when_the_sure_impression_is_gone() -> None:
    anchor, unsure = _seal(NAME, 1), _seal(NAME, 2)
    settled = _settled(anchor, unsure, [("大连巷湾物流有限公司", [0.99, 0.99, 0.55] + [0.99] * 7),
                                        ("大连港湾物流有限司", [0.99] * 9)])
    assert settled.status is Status.PASS
    # a re-review reuses the finding, but the authorization was replaced by one whose seal reads unsurely
    ctx = StageContext(case=Case.model_validate(case_dict()), rules=load_rule_set(),
                       uploads={"handler_id": _upload("handler_id", unsure[0])})
    again = settle_across_impressions(ctx, [settled])[0]
    assert again.status is Status.UNCERTAIN and again.evidence["reason"] == "read_otherwise"
    assert "same_seal_as" not in again.evidence and "read_reason" not in again.evidence
