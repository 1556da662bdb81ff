"""Fuzzing the upload gate: real JPEG/PNG/GIF/BMP/PDF bytes, mutated (bit flips, interesting values,
truncation, splices, header corruption), go through ``intake`` in a case folder. None may raise,
crash a check (an ``uncertain`` finding with ``crashed``), hang, or hand on pages outside the
bounds. bench/fuzz.py runs the same mutations ≥ 10,000 times."""

from __future__ import annotations

import functools
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline.casefolder import CaseFolder, parse_case_json
from pipeline.models import Status
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.stages.upload import intake, limits_from_rules
from tests.casedata import BASE_CASE
from tests.uploadfiles import encode, gif_animated, page_image, pdf

pytestmark = pytest.mark.timeout(120)  # hang guard for the whole run


@functools.cache
def seeds() -> dict[str, bytes]:
    """Small real files, one or more per allowed type (name → bytes; the extension is the type)."""
    small = Image.fromarray(page_image(64, 90))
    deep = Image.fromarray(np.arange(48 * 32, dtype=np.uint16).reshape(48, 32) * 40)
    palette = small.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    doc_plain = _plain_pdf()
    return {
        "baseline.jpg": encode(small, "JPEG", quality=80),
        "progressive.jpg": encode(small, "JPEG", progressive=True, quality=60),
        "cmyk.jpg": encode(small.convert("CMYK"), "JPEG"),
        "rgb.png": encode(small, "PNG"),
        "palette.png": encode(palette, "PNG", transparency=0),
        "deep.png": encode(deep, "PNG"),
        "animated.gif": gif_animated(frames=3),
        "page.bmp": encode(small, "BMP"),
        "palette.bmp": encode(palette, "BMP"),
        "scan.pdf": pdf(),
        "plain.pdf": doc_plain,
    }


def _plain_pdf() -> bytes:
    """An uncompressed two-page PDF, so mutations hit its object syntax rather than a stream."""
    import pymupdf

    doc = pymupdf.open()
    for number in range(2):
        page = doc.new_page(width=300, height=400)
        page.insert_text((20, 40), f"page {number}")
        page.draw_rect(pymupdf.Rect(20, 60, 200, 120), color=(1, 0, 0), fill=(0, 0, 1))
    return doc.tobytes(deflate=False, garbage=0)


INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
               b"\x00\x01\x00\x00", b"\xff\xd9", b"\xff\xda", b"endobj", b"stream", b"%%EOF", b"99999999 0 R",
               b"/Count 1000000", b"IEND", b"IDAT")

position = st.one_of(st.integers(0, 127), st.integers(0, 1 << 22))  # header bytes get half the edits
edits = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("put"), position, st.sampled_from(INTERESTING)),
    st.tuples(st.just("cut"), position),
    st.tuples(st.just("delete"), position, st.integers(1, 512)),
    st.tuples(st.just("repeat"), position, st.integers(1, 512)),
    st.tuples(st.just("splice"), position, st.sampled_from(sorted(seeds())), st.integers(0, 1 << 20),
              st.integers(1, 2048)),
)


def mutate(data: bytes, changes: list[tuple[Any, ...]]) -> bytes:
    """Apply edits; positions wrap around the current length."""
    out = bytearray(data)
    for change in changes:
        kind, where = change[0], change[1] % max(len(out), 1)
        if kind == "flip" and out:
            out[where] ^= 1 << change[2]
        elif kind == "put":
            out[where:where + len(change[2])] = change[2]
        elif kind == "cut":
            del out[where:]
        elif kind == "delete":
            del out[where:where + change[2]]
        elif kind == "repeat":
            out[where:where] = out[where:where + change[2]]
        elif kind == "splice":
            donor = seeds()[change[2]]
            start = change[3] % max(len(donor), 1)
            out[where:where] = donor[start:start + change[4]]
    return bytes(out)


def random_changes(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """The same edits drawn from ``random`` (for bench/fuzz.py's 10,000+ runs without shrinking)."""
    names = sorted(seeds())
    where = (lambda: rng.randrange(128)) if rng.random() < 0.5 else (lambda: rng.randrange(1 << 22))
    makers = (
        lambda: ("flip", where(), rng.randrange(8)),
        lambda: ("put", where(), rng.choice(INTERESTING)),
        lambda: ("cut", where()),
        lambda: ("delete", where(), rng.randrange(1, 513)),
        lambda: ("repeat", where(), rng.randrange(1, 513)),
        lambda: ("splice", where(), rng.choice(names), rng.randrange(1 << 20), rng.randrange(1, 2049)),
    )
    return [rng.choice(makers)() for _ in range(count)]


@functools.cache
def fuzz_case() -> Any:
    return parse_case_json(json.dumps(BASE_CASE).encode())


def check_intake(folder: Path, rules: RuleSet, name: str, data: bytes) -> str:
    """Run intake on one mutated file as the authorization slot; assert the gate's properties
    (no exception, no crashed check, findings writable as UTF-8 JSON, pages inside the bounds);
    return the upload.unreadable status (or the failing rule) for statistics."""
    upload = folder / "uploads" / f"authorization.{name.rsplit('.', 1)[1]}"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(data)
    result = intake(CaseFolder(path=folder, case=fuzz_case(), uploads={"authorization": upload}), rules)
    mine = [f for f in result.findings if f.slot == "authorization"]
    assert not any(f.evidence.get("crashed") for f in mine), [f.evidence for f in mine]
    assert {f.rule for f in mine} == {"upload.missing", "upload.empty", "upload.too_large", "upload.format",
                                      "upload.unreadable"}
    report_part = [f.model_dump(mode="json") for f in mine]
    if "authorization" in result.uploads:
        report_part.append(result.uploads["authorization"].metadata)
    json.dumps(report_part, ensure_ascii=False).encode("utf-8")  # the report can be written
    failed = [f.rule for f in mine if f.status is Status.FAIL]
    if failed:
        assert "authorization" in result.blocked_slots and "authorization" not in result.uploads
        return failed[0]
    limits = limits_from_rules(rules)
    decoded = result.uploads["authorization"]
    assert 1 <= len(decoded.pages) <= limits.max_pages
    total = 0
    for page in decoded.pages:
        image = page.image
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert 0 < max(image.shape[:2]) <= limits.max_render_side + 1
        assert math.isfinite(page.dpi) and page.dpi > 0
        total += image.shape[0] * image.shape[1]
    assert total <= max(limits.max_document_pixels, limits.max_render_side ** 2) * 1.01
    return next(f.status.value for f in mine if f.rule == "upload.unreadable")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_set()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-case")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(name=st.sampled_from(sorted(seeds())), changes=st.lists(edits, min_size=1, max_size=4))
def test_mutated_uploads_never_crash_the_gate_nor_leave_its_bounds(
        folder: Path, rules: RuleSet, name: str, changes: list[tuple[Any, ...]]) -> None:
    check_intake(folder, rules, name, mutate(seeds()[name], changes))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(name=st.sampled_from(sorted(seeds())), other=st.sampled_from(["jpg", "png", "gif", "bmp", "pdf", "tif"]),
       changes=st.lists(edits, max_size=2))
def test_mutated_uploads_under_another_extension_are_judged_too(
        folder: Path, rules: RuleSet, name: str, other: str, changes: list[tuple[Any, ...]]) -> None:
    check_intake(folder, rules, f"x.{other}", mutate(seeds()[name], changes))


def test_every_seed_file_passes_the_gate_unmutated(folder: Path, rules: RuleSet) -> None:
    for name, data in seeds().items():
        assert check_intake(folder, rules, name, data) == "pass", name

