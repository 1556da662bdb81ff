"""Hostile files: each is judged by the upload gate, within the bounds pipeline/intake/images.py states.

Bounds are proven by measurement, not by wall-clock: the PDF renderer's CPU time is read from
``RUSAGE_CHILDREN`` (the forked renderer is reaped before intake returns), and the peak memory
of the whole hostile set from the peak RSS (VmHWM, reset after imports) of a fresh interpreter
that judges all of it, and of its forked PDF renderers (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from pipeline.models import Finding, Status
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.stages.upload import limits_from_rules
from tests.uploadfiles import (
    AES_256,
    bomb_png,
    encrypted_pdf,
    jpeg,
    many_pages_pdf,
    operator_bomb_pdf,
    pdf,
    polyglot_jpeg_pdf,
    review_uploads,
    zip_file,
)

pytestmark = pytest.mark.timeout(60)  # a hang guard, not a speed assertion
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_set()


def judge(tmp_path: Path, rules: RuleSet, name: str, content: bytes) -> dict[str, Finding]:
    """The upload findings on the one file ``uploads/<name>`` (slot = the name before the dot)."""
    result = review_uploads(tmp_path, rules, {name: content})
    slot = name.split(".", 1)[0]
    if any(f.status is Status.FAIL for f in result.findings if f.slot == slot):
        assert slot in result.blocked_slots and slot not in result.uploads
    return {f.rule: f for f in result.findings if f.slot == slot}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_a_decompression_bomb_png_is_unreadable_from_its_header_alone(tmp_path: Path, rules: RuleSet) -> None:
    # Given a ~100 KB PNG declaring 30000 × 30000 pixels (2.7 GB once decoded)
    data = bomb_png()
    assert len(data) < 200_000
    # When judged
    finding = judge(tmp_path, rules, "org_license.png", data)["upload.unreadable"]
    # Then it is unreadable, and never decoded (no MemoryError, the evidence names the cap)
    assert finding.status is Status.FAIL
    assert finding.evidence["max_pixels"] == 40_000_000 and "图像尺寸过大" in finding.message


def test_a_zip_archive_named_jpg_fails_the_format_rule(tmp_path: Path, rules: RuleSet) -> None:
    findings = judge(tmp_path, rules, "handler_id.jpg", zip_file())
    assert findings["upload.format"].status is Status.FAIL
    assert findings["upload.format"].evidence["detected_type"] == "zip"
    assert findings["upload.unreadable"].status is Status.SKIPPED


def test_a_jpeg_pdf_polyglot_named_jpg_is_read_as_the_jpeg_its_first_bytes_say(tmp_path: Path, rules: RuleSet) -> None:
    # Given a JPEG whose comment segment carries a whole PDF
    data = polyglot_jpeg_pdf()
    assert pymupdf.open(stream=data[data.index(b"%PDF"):], filetype="pdf").page_count == 1
    # When named .jpg: the JPEG decoder alone sees it, and the embedded PDF is never opened
    result = review_uploads(tmp_path / "as-jpg", rules, {"seal_form.jpg": data})
    assert all(f.status is Status.PASS for f in result.findings if f.slot == "seal_form")
    assert result.uploads["seal_form"].content_type == "jpeg"
    assert result.uploads["seal_form"].metadata["format"] == "jpeg"
    # When named .pdf: the content (JPEG at offset 0) does not match the name
    finding = judge(tmp_path / "as-pdf", rules, "seal_form.pdf", data)["upload.format"]
    assert finding.status is Status.FAIL
    assert (finding.evidence["expected_type"], finding.evidence["detected_type"]) == ("pdf", "jpeg")


def test_a_truncated_jpeg_is_unreadable(tmp_path: Path, rules: RuleSet) -> None:
    data = jpeg(620, 877)
    finding = judge(tmp_path, rules, "employee_id.jpg", data[: len(data) * 2 // 3])["upload.unreadable"]
    assert finding.status is Status.FAIL and "truncated" in finding.evidence["error"]
    assert "被截断" in finding.message


def test_a_truncated_cmyk_jpeg_is_unreadable_through_pillow_too(tmp_path: Path, rules: RuleSet) -> None:
    from PIL import Image

    from tests.uploadfiles import encode

    data = encode(Image.new("CMYK", (600, 800), (10, 200, 30, 0)).effect_spread(3), "JPEG")
    finding = judge(tmp_path, rules, "employee_id.jpg", data[: len(data) // 2])["upload.unreadable"]
    assert finding.status is Status.FAIL and "truncated" in finding.evidence["error"]


def test_a_zero_byte_file_fails_upload_empty(tmp_path: Path, rules: RuleSet) -> None:
    findings = judge(tmp_path, rules, "authorization.pdf", b"")
    assert findings["upload.empty"].status is Status.FAIL
    assert findings["upload.format"].status is Status.SKIPPED


def test_a_file_over_5_mib_fails_upload_too_large_without_being_read_whole(tmp_path: Path, rules: RuleSet) -> None:
    # Given a 64 MiB sparse file (no disk used) named .pdf
    folder_uploads = tmp_path / "uploads"
    result_dir = tmp_path
    from tests.casedata import write_case

    write_case(result_dir, uploads={"authorization.pdf": b"%PDF-1.7\n"})
    with (folder_uploads / "authorization.pdf").open("r+b") as handle:
        handle.truncate(64 * 1024 * 1024)
    from pipeline.casefolder import load_case_folder
    from pipeline.stages.upload import intake

    finding = next(f for f in intake(load_case_folder(result_dir, set(rules.slots)), rules).findings
                   if f.rule == "upload.too_large" and f.slot == "authorization")
    assert finding.status is Status.FAIL and finding.evidence["size"] == 64 * 1024 * 1024


def test_an_encrypted_pdf_is_unreadable(tmp_path: Path, rules: RuleSet) -> None:
    finding = judge(tmp_path, rules, "authorization.pdf", encrypted_pdf())["upload.unreadable"]
    assert finding.status is Status.FAIL and finding.evidence["encrypted"] is True
    assert "加密" in finding.message


def test_a_pdf_encrypted_only_against_editing_opens_without_a_password(tmp_path: Path, rules: RuleSet) -> None:
    data = pdf(encryption=AES_256, owner_pw="owner", permissions=0)
    assert judge(tmp_path, rules, "authorization.pdf", data)["upload.unreadable"].status is Status.PASS


def test_a_10000_page_pdf_is_rejected_before_any_page_is_rendered(tmp_path: Path, rules: RuleSet) -> None:
    # Given a well-formed PDF of 10,000 pages (PyMuPDF opens it without repairing)
    data = many_pages_pdf(10_000)
    doc = pymupdf.open(stream=data, filetype="pdf")
    assert (doc.page_count, doc.is_repaired) == (10_000, False)
    # When judged
    cpu_before = children_cpu_seconds()
    finding = judge(tmp_path, rules, "application_form.pdf", data)["upload.unreadable"]
    renderer_cpu = children_cpu_seconds() - cpu_before
    # Then it is unreadable for its page count, no page was rendered, and the renderer used
    # less CPU than one page's budget
    assert finding.status is Status.FAIL
    assert finding.evidence["pages"] == 10_000 and finding.evidence["pages_rendered"] == 0
    assert renderer_cpu < limits_from_rules(rules).pdf_page_cpu_seconds


def test_a_pdf_of_endless_drawing_operators_is_stopped_by_the_cpu_limit(tmp_path: Path, rules: RuleSet) -> None:
    # Given a 150 KB PDF whose one page holds 6 million fill operators (≈4 s of MuPDF CPU)
    data = operator_bomb_pdf()
    # When judged
    cpu_before = children_cpu_seconds()
    finding = judge(tmp_path, rules, "application_form.pdf", data)["upload.unreadable"]
    renderer_cpu = children_cpu_seconds() - cpu_before
    # Then the renderer was stopped by its per-page CPU timer, having used about one page's budget
    assert finding.status is Status.FAIL and finding.evidence["limit"] == "cpu"
    assert renderer_cpu <= limits_from_rules(rules).pdf_page_cpu_seconds + 0.25


def test_a_truncated_pdf_whose_pages_still_render_is_uncertain_not_passed(tmp_path: Path, rules: RuleSet) -> None:
    # Given a PDF cut just before its end: the xref and trailer are gone, the page objects remain
    data = pdf()
    finding = judge(tmp_path, rules, "authorization.pdf", data[: len(data) - 60])["upload.unreadable"]
    # Then MuPDF's repair is reported for a person to check, and the pages go on to later stages
    assert finding.status is Status.UNCERTAIN and any("repair" in w for w in finding.evidence["warnings"])


def test_a_pdf_cut_in_half_is_unreadable(tmp_path: Path, rules: RuleSet) -> None:
    data = pdf(pages=3)
    finding = judge(tmp_path, rules, "authorization.pdf", data[: len(data) // 2])["upload.unreadable"]
    assert finding.status is Status.FAIL


def test_garbage_after_a_pdf_header_is_unreadable(tmp_path: Path, rules: RuleSet) -> None:
    finding = judge(tmp_path, rules, "authorization.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40)["upload.unreadable"]
    assert finding.status is Status.FAIL


HOSTILE_RUN = """
import json, resource, sys
from pathlib import Path
from pipeline.ruleset import load_rule_set
from pipeline.casefolder import load_case_folder
from pipeline.stages.upload import intake

def status_mb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(key))

rules = load_rule_set()
baseline_mb = status_mb("VmRSS:")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets VmHWM, the peak: import-time peaks do not count
out = {}
for case in sorted(Path(sys.argv[1]).iterdir()):
    result = intake(load_case_folder(case, set(rules.slots)), rules)
    out[case.name] = sorted({f.rule for f in result.findings if f.status.value == "fail" and f.slot == "org_license"})
out["self_mb"] = status_mb("VmHWM:") - baseline_mb
out["renderer_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 - baseline_mb
out["baseline_mb"] = baseline_mb
print(json.dumps(out))
"""

#: Peak resident memory a judgement may add to the interpreter's own (MB): the image decoding
#: budget (max_decode_mb) plus the reduced page and its copies; the forked PDF renderer is
#: measured the same way (its resident size starts at the parent's).
PEAK_INCREMENT_BOUND_MB = 128 + 100
RENDERER_BOUND_MB = 512  # pdf_memory_mb: the renderer's address space beyond its start (RLIMIT_AS)


def test_the_whole_hostile_set_is_judged_within_the_memory_bound(tmp_path: Path, rules: RuleSet) -> None:
    limits = limits_from_rules(rules)
    assert (limits.max_decode_mb, limits.pdf_memory_mb) == (128, RENDERER_BOUND_MB)
    # Given one case folder per hostile file, plus PNGs just under and over the decoding caps
    from tests.casedata import write_case
    from tests.uploadfiles import flat_png

    hostile = {
        "bomb.png": bomb_png(), "zip.jpg": zip_file(), "polyglot.pdf": polyglot_jpeg_pdf(),
        "truncated.jpg": jpeg(620, 877)[:20_000], "empty.jpg": b"", "encrypted.pdf": encrypted_pdf(),
        "pages.pdf": many_pages_pdf(10_000), "operators.pdf": operator_bomb_pdf(),
        "huge-page.pdf": pdf(width=14400, height=14400),
        "at-cap.png": flat_png(6300, 6300, "rgb"),  # 39.7 Mpx, 119 MB: just under both caps
        "over-cap.png": flat_png(6000, 6000, "rgba"),  # 36 Mpx but 144 MB to decode
    }
    for name, content in hostile.items():
        write_case(tmp_path / name.replace(".", "-"), uploads={f"org_license.{name.split('.')[1]}": content})
    # When a fresh interpreter judges them all
    run = subprocess.run([sys.executable, "-c", HOSTILE_RUN, str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    # Then each got its rule, and neither the interpreter nor a PDF renderer passed the bound
    assert out["bomb-png"] == ["upload.unreadable"] and out["zip-jpg"] == ["upload.format"]
    assert out["empty-jpg"] == ["upload.empty"] and out["pages-pdf"] == ["upload.unreadable"]
    assert out["at-cap-png"] == [] and out["huge-page-pdf"] == [] and out["over-cap-png"] == ["upload.unreadable"]
    assert out["self_mb"] < PEAK_INCREMENT_BOUND_MB, out
    assert out["renderer_mb"] < RENDERER_BOUND_MB, out


def test_a_phone_photo_with_a_video_appended_after_its_end_marker_is_readable(tmp_path: Path, rules: RuleSet) -> None:
    # Given a JPEG followed by bytes that hold JPEG-like markers (as motion photos append an MP4)
    data = jpeg(300, 424) + b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda\x00\x08" + bytes(5000)
    finding = judge(tmp_path, rules, "employee_id.jpg", data)["upload.unreadable"]
    assert finding.status is Status.PASS
