"""The official seal or a special-purpose one, on organisation names never seen: figures only.

    .venv/bin/python bench/seal_kind.py [--set tune|holdout|all] [--seed 0] [--worse] [--show]

The guide asks for the 公章. An organisation's special-purpose seals (合同专用章, 财务专用章 …) carry
the same name on the arc and their purpose on a line under the star; ``seal.present`` reads that
line (``pipeline.seal.band``) and judges it (``pipeline.stages.seal.seal_kind``). This bench
stamps, for each of the seal bench's 24 names (``fixtures.scans.seals``: ``tune`` and ``holdout``
halves; the line reader was built looking at the tune half only), one 公章 and five special seals
(合同, 财务, 人事, 业务, 质检专用章), each cut in a face drawn from the fixtures' and five others, half
with a serial number on the bottom arc, 150/200/300 dpi, turned up to ±40°, the line placed and
sized as seal makers differ, pressed over printed lines and scanned. Per seal: what the stage makes
it — ``special`` (fails when alone), ``maybe`` (a clerk), ``official`` (passes). Special seals should
be ``special`` (none ``official``: each of those is a false approval); 公章 must be ``official``
(each other is a needless trip to a clerk, or a false rejection). The naive baseline in the same
run: the seal's square crop read by RapidOCR's detection and recognition, special when a read shows
专用.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans.imaging import OTHER_FACES  # noqa: E402
from fixtures.scans.seals import NAMES, StampedSeal, stamped_seal  # noqa: E402
from pipeline.reading.ocr import get_engine  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402
from pipeline.seal.arctext import square_crop  # noqa: E402
from pipeline.seal.band import read_line_under_star  # noqa: E402
from pipeline.seal.find import SealCandidate, find_seals  # noqa: E402
from pipeline.stages.seal import _line_reader, seal_kind  # noqa: E402

PURPOSES = ("", "合同专用章", "财务专用章", "人事专用章", "业务专用章", "质检专用章")


def judged(stamped: StampedSeal, seal: SealCandidate) -> tuple[str, str]:
    engine = get_engine("auto")
    readers = [_line_reader(e) for e in (engine, engine.stronger) if e is not None]
    kind, read = seal_kind(read_line_under_star(stamped.image, seal.centre, seal.radius, readers),
                           load_rule_set().rule("seal.present").params)
    return kind, "" if read is None else read.text


def naive(stamped: StampedSeal, seal: SealCandidate) -> str:
    crop, _ = square_crop(stamped.image, seal.centre, seal.radius)
    texts = [box.text for box in get_engine("rapidocr").read(crop)]
    return "special" if any("专用" in t for t in texts) else "official"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=("tune", "holdout", "all"), default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", action="store_true", help="print every seal not judged as it should be")
    ap.add_argument("--worse", action="store_true", help="scan each seal worse (more blur and grain, JPEG 55)")
    args = ap.parse_args()
    halves = {"tune": NAMES[0::2], "holdout": NAMES[1::2]}
    faces = ("serif-bold", *OTHER_FACES)
    rng = np.random.default_rng(args.seed)
    print(f"# seal kind, seed {args.seed}{', scanned worse' if args.worse else ''}: "
          f"per name one 公章 and {len(PURPOSES) - 1} special seals\n")
    print(f"{'set':8s} {'seal':8s} {'seals':>5s} {'special':>8s} {'maybe':>6s} {'official':>9s} {'not found':>10s}"
          f"   naive: {'special':>8s} {'official':>9s}")
    for half in ("tune", "holdout"):
        counts: dict[str, Counter[str]] = {"公章": Counter(), "special": Counter()}
        naive_counts: dict[str, Counter[str]] = {"公章": Counter(), "special": Counter()}
        for name in halves[half]:
            for purpose in PURPOSES:
                face = faces[int(rng.integers(len(faces)))]
                serial = "".join(str(d) for d in rng.integers(0, 10, 13)) if rng.random() < 0.5 else ""
                stamped = stamped_seal(name, name, rng, face=face, purpose=purpose, serial=serial, worse=args.worse)
                if args.set not in (half, "all"):
                    continue
                which = "special" if purpose else "公章"
                red = [s for s in find_seals(stamped.image, stamped.dpi) if s.colour == "red"]
                if not red:
                    counts[which]["not found"] += 1
                    continue
                kind, text = judged(stamped, red[0])
                counts[which][kind] += 1
                naive_counts[which][naive(stamped, red[0])] += 1
                if args.show and kind != ("special" if purpose else "official"):
                    print(f"  {name} {purpose or '公章'} {stamped.dpi} dpi {face}{' serial' if serial else ''}: "
                          f"{kind} {text!r}")
        for which in ("公章", "special"):
            c, n = counts[which], naive_counts[which]
            if sum(c.values()):
                print(f"{half:8s} {which:8s} {sum(c.values()):5d} {c['special']:8d} {c['maybe']:6d} {c['official']:9d} "
                      f"{c['not found']:10d}          {n['special']:8d} {n['official']:9d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
