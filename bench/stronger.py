"""The stronger reader against the first one, line by line: figures only.

    .venv/bin/python bench/stronger.py [--seed 5]

The review reads every value with RapidOCR's PP-OCRv4 and asks PP-OCRv5's line recogniser
(``pipeline/tools/ppocr.py``) about the values that reading disputes. This bench says whether
that second reader deserves the trust the fields stage gives it: lines of names and addresses,
each also printed with one character changed (a look-alike, a homophone, or the look-alike v4
reads a character outside its dictionary as), are drawn in seven faces (Noto Sans and Serif, AR PL
UMing and UKai, WenQuanYi Zen Hei and Micro Hei, Droid Sans Fallback) at 10.5 pt, 150/200/300 dpi,
scanned (blur, noise, JPEG 70–91), and read whole by each — PP-OCRv6 small too, the seal stage's
second reader of arc strips, for comparison (the fields stage does not ask it). Counted: lines read exactly as printed
(right lines and their changed twins), changed lines read as the right one (the error that would
pass a different name), and each reader's CPU time a line. Droid Sans Fallback has no Latin or
digit glyphs, so its lines with digits print boxes, which neither reads as digits.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from fixtures.scans.imaging import OTHER_FACES, font, scan  # noqa: E402

#: (as entered, printed one character off): look-alikes, homophones, and characters outside
#: PP-OCRv4's dictionary (赟 锒 舂 旻 燊) beside the look-alike it reads them as
PAIRS = (("辽宁省营口市站前区渤海大街西45号", "辽宁省营口市站前区潮海大街西45号"),
         ("锦州渤海船舶配件有限公司", "锦州潮海船舶配件有限公司"),
         ("王赟", "王赞"), ("铁岭锒州商业连锁有限公司", "铁岭银州商业连锁有限公司"),
         ("沈阳示例科技有限公司", "沈阳示范科技有限公司"), ("抚顺新宇环保设备有限公司", "抚顺新雨环保设备有限公司"),
         ("鞍山千山中药饮片厂", "鞍山干山中药饮片厂"), ("高海峰", "高海锋"), ("许文博", "许文搏"),
         ("舂晖幼儿园", "春晖幼儿园"), ("李旻", "李昊"), ("张燊", "张粲"))
FACES = ("sans", "serif", *OTHER_FACES)


def line(text: str, face: str, dpi: int, rng: np.random.Generator) -> np.ndarray:
    """One scanned line of ``text`` at 10.5 pt."""
    px = round(3.7 / 25.4 * dpi)
    img = Image.new("RGB", (int(px * 1.05 * len(text)) + 2 * px, int(px * 2.2)), (255, 255, 255))
    ImageDraw.Draw(img).text((px, int(px * 0.5)), text, font=font(face, px), fill=(20, 20, 20))
    page = np.asarray(img)[:, :, ::-1].copy()
    return scan(page, dpi, noise=2.5, blur=0.6, jpeg_quality=int(rng.integers(70, 92)), rng=rng)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    from pipeline.tools import ppocr, rapidocr

    def first(img: np.ndarray) -> str:
        got = rapidocr.read_line(img)
        return got[0] if got else ""

    def stronger(img: np.ndarray) -> str:
        got = ppocr.read_line(img, "ppocrv5")
        return got[0] if got else ""

    def seal_reader(img: np.ndarray) -> str:
        got = ppocr.read_line(img, "ppocrv6")
        return got[0] if got else ""

    readers = {"PP-OCRv4 (first)": first, "PP-OCRv5 (stronger)": stronger, "PP-OCRv6 (seal reader)": seal_reader}
    rng = np.random.default_rng(args.seed)
    counts: dict[str, Counter[object]] = {name: Counter() for name in readers}
    cpu = dict.fromkeys(readers, 0.0)
    lines = 0
    for dpi in (150, 200, 300):
        for face in FACES:
            for right, changed in PAIRS:
                for kind, text in (("right", right), ("changed", changed)):
                    img = line(text, face, dpi, rng)
                    lines += 1
                    for name, read in readers.items():
                        t = time.process_time()
                        got = read(img)
                        cpu[name] += time.process_time() - t
                        counts[name][kind, got == text] += 1
                        if kind == "changed" and got == right:
                            counts[name]["changed read as right"] += 1
    per_kind = lines // 2
    print(f"# {lines} scanned lines: {len(PAIRS)} names and addresses and their one-character twins, "
          f"{len(FACES)} faces, 150/200/300 dpi, seed {args.seed}")
    print(f"{'reader':22} {'right read exactly':>19} {'changed read exactly':>21} {'changed read as right':>22}"
          f" {'ms/line':>8}")
    for name in readers:
        c = counts[name]
        print(f"{name:22} {c['right', True]:>12}/{per_kind:<6} {c['changed', True]:>14}/{per_kind:<6}"
              f" {c['changed read as right']:>22} {1000 * cpu[name] / lines:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
