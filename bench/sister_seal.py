"""One upload stamped with a sister organisation's seal: no case may be approved (figures only).

    .venv/bin/python bench/sister_seal.py [--jobs 2] [--out var/bench/unseen] [--cases A,B] [--blurred] [--control]
    .venv/bin/python bench/sister_seal.py --special 合同专用章 [--cases A,B] [--blurred]

``seal.org_name`` settles an upload whose seal reads unsurely by comparing the impression, as an
image, with one of another upload that reads the name surely (``pipeline.seal.identity``). The
image tells another layout of name apart, not a name sharing its layout and all but a character or
two — a sister company's seal (沈阳示例科技 / 沈阳示范科技 / 沈阳示例商贸). This bench presses such
a seal on one upload of a clean tune case (the forms' second page, the authorization, the licence,
an ID copy), everything else as made: the seal of that upload must never pass, so no case may be
approved. ``--blurred`` scans that upload worse (1.4 px blur, more noise, JPEG 55), so its seal
reads less surely — where settling by the image would be tempted; ``--control`` presses the
organisation's own seal instead (the same upload made again, worse with ``--blurred``): what the
settling is for, to be approved. ``--special P`` presses the organisation's own special-purpose seal
instead (its name on the arc, P — 合同专用章, 财务专用章 … — under the star; the guide asks for the 公章):
that slot's ``seal.present`` must not pass, no case may be approved. Per case: the decision, that
slot's ``seal.org_name`` (``seal.present`` with ``--special``) and, when it passed, why. The cases
are made from the tune folders (generated first when missing, as ``bench/unseen.py`` makes them);
reviews are cold (no OCR results kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import unseen  # noqa: E402

CASES = ("tune_clean_v1_zenhei", "tune_clean_v2_droid")
SLOTS = ("application_form_extra", "authorization", "org_license", "handler_id", "employee_id")
#: Per organisation of the tune cases: sister names one character (a look-alike) and two characters away.
SISTERS = {
    "沈阳示例科技有限公司": ("沈阳示范科技有限公司", "沈阳示例商贸有限公司"),
    "沈阳华信智能装备有限公司": ("沈阳华倍智能装备有限公司", "沈阳华信智能设备有限公司"),
}


def sister_sealed(base: Path, spec: unseen.USpec, slot: str, sister: str, out: Path, blurred: bool = False,
                  purpose: str = "") -> Path:
    """A copy of ``base`` whose ``slot`` upload is made again with ``sister``'s seal on it (with
    ``purpose`` under its star: a special-purpose seal)."""
    folder = out / f"{base.name}__{slot}_sealed_{sister}{purpose}"
    shutil.copytree(base, folder)
    sheet = replace(unseen.sheets(spec)[slot], seal_org=sister, seal_purpose=purpose)
    if blurred:
        sheet = replace(sheet, blur=1.4, noise=5.0, quality=55)
    (folder / "uploads" / f"{slot}.{sheet.fmt}").write_bytes(unseen.build(sheet))
    return folder


def _review(job: tuple[str, str, str]) -> tuple[str, str, dict[str, object] | None]:
    from pipeline.review import review_case

    folder, slot, rule = job
    report = review_case(Path(folder))
    on_slot = next((f for f in report.findings if f.slot == slot and f.rule == rule), None)
    seen = None if on_slot is None else {"status": on_slot.status.value, "reason": on_slot.evidence.get("reason", ""),
                                         "read": on_slot.evidence.get("read", on_slot.evidence.get("seal_line", ""))}
    return Path(folder).name, report.decision.value, seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    ap.add_argument("--cases", default=",".join(CASES), help="tune cases of the unseen set, comma-separated")
    ap.add_argument("--blurred", action="store_true", help="scan the sister-sealed upload worse")
    ap.add_argument("--control", action="store_true", help="the organisation's own seal instead of a sister's")
    ap.add_argument("--special", default="", metavar="PURPOSE",
                    help="the organisation's own seal with PURPOSE under the star (合同专用章 …)")
    args = ap.parse_args()
    rule = "seal.present" if args.special else "seal.org_name"
    control = args.control or bool(args.special)  # the organisation's own name on the arc
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    specs = {s.name: s for s in unseen.CASES}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for name in args.cases.split(","):
            base, spec = unseen.ensure_case(args.out, name), specs[name]
            for slot in (s for s in SLOTS if s in unseen.sheets(spec)):  # a v1 case's VI page is in its form
                own = unseen.ORG[spec.base.org].name
                for sister in (own,) if control else SISTERS[own]:
                    folder = sister_sealed(base, spec, slot, sister, Path(tmp), args.blurred, args.special)
                    jobs.append((str(folder), slot, rule))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_review, jobs))
    decisions: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    whose = ("its own organisation's seal (control)" if args.control else
             f"its own organisation's {args.special}" if args.special else "a sister organisation's seal")
    print(f"# one upload stamped with {whose}{' (scanned worse)' if args.blurred else ''}: "
          f"{len(results)} cases\n")
    print(f"{'case':92s} {'decision':13s} {rule} on that slot")
    for name, decision, seen in results:
        decisions[decision] += 1
        statuses[str(seen["status"]) if seen else "none"] += 1
        said = "" if seen is None else f"{seen['status']} {seen['reason']} {seen['read']}"
        print(f"{name:92s} {decision:13s} {said}")
    goal = "goal: all" if args.control else "must be 0"
    print(f"\napproved {decisions['approved']} ({goal}), rejected {decisions['rejected']}, needs review "
          f"{decisions['needs_review']}; the re-sealed slot's {rule}: pass {statuses['pass']} ({goal}), "
          f"fail {statuses['fail']}, uncertain {statuses['uncertain']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
