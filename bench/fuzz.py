"""Fuzzing and hostile-file bench of the upload gate and the case loader (issue 3 items 5 and 11).

    .venv/bin/python bench/fuzz.py [--examples 10000] [--loader 10000] [--naive 1500] [--seed 1]

1. Upload gate: ``--examples`` mutated files (the seeds and edits of tests/test_fuzz_upload.py,
   drawn from ``random`` with a fixed seed: no shrinking, every example counted) go through
   ``intake`` in a case folder, each checked by ``check_intake`` (no exception, no crashed check,
   pages inside the bounds). Naive baseline on the first ``--naive`` of the same inputs, in the
   same process: Pillow open + load + convert("RGB"), PyMuPDF rendering every page at 200 dpi,
   no caps and no child process — the exceptions it lets escape are what a naive gate would
   crash on.
2. Case loader: ``--loader`` mutated case.json byte strings through ``parse_case_json``.
3. Hostile set: each file judged in a fresh interpreter (gate = the whole upload stage, vs naive),
   wall ms, CPU of the PDF renderer child, peak RSS above the interpreter's own after imports
   (VmHWM reset after imports); naive killed at 30 s.
4. Good files: the gate (sniff + decode, pages handed on) against Pillow's full decode.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pymupdf  # noqa: E402
from PIL import Image  # noqa: E402

from pipeline.casefolder import CaseFolder, parse_case_json  # noqa: E402
from pipeline.errors import CaseError  # noqa: E402
from pipeline.intake.images import Limits, decode, sniff  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402
from pipeline.stages.upload import intake  # noqa: E402
from tests import uploadfiles as files  # noqa: E402
from tests.test_fuzz_case_loader import GOOD, mutate_bytes  # noqa: E402
from tests.test_fuzz_upload import check_intake, fuzz_case, mutate, random_changes, seeds  # noqa: E402


def naive_decode(data: bytes, name: str) -> int:
    """What a gate without bounds does: decode everything, in-process. Returns pixels decoded."""
    if name.endswith(".pdf"):
        pixels = 0
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            for page in doc:
                pix = page.get_pixmap(dpi=200)
                pixels += pix.width * pix.height
        return pixels
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        return rgb.size[0] * rgb.size[1]


def fuzz_gate(count: int, naive_count: int, seed: int) -> None:
    rng = random.Random(seed)
    rules = load_rule_set()
    names = sorted(seeds())
    inputs = []
    for _ in range(count):
        name = rng.choice(names)
        inputs.append((name, mutate(seeds()[name], random_changes(rng, rng.randint(1, 4)))))
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for name, data in inputs:
            began = time.perf_counter()
            try:
                outcomes[f"{name.rsplit('.', 1)[1]}:{check_intake(Path(tmp), rules, name, data)}"] += 1
            except BaseException as exc:  # count every escape, never stop
                failures.append(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            times.append((time.perf_counter() - began) * 1000)
        elapsed = time.perf_counter() - start
    print(f"upload gate fuzz: examples={count} failures={len(failures)} "
          f"examples/s={count / elapsed:.0f} median_ms={statistics.median(times):.2f} max_ms={max(times):.0f} "
          f"total_s={elapsed:.1f}")
    print("  outcomes (type:upload.unreadable status, or the failing rule):")
    for key, value in sorted(outcomes.items()):
        print(f"    {key:32s} {value}")
    for failure in failures[:5]:
        print("  FAILURE", failure)

    if not naive_count:
        return  # no naive baseline asked for
    escaped: Counter[str] = Counter()
    started = time.perf_counter()
    naive_times = []
    for name, data in inputs[:naive_count]:
        began = time.perf_counter()
        try:
            naive_decode(data, name)
        except Exception as exc:  # what the naive gate would have to survive
            escaped[type(exc).__name__] += 1
        naive_times.append((time.perf_counter() - began) * 1000)
    naive_elapsed = time.perf_counter() - started
    gate_rate = count / elapsed
    naive_rate = naive_count / naive_elapsed
    print(f"naive baseline on the first {naive_count}: examples/s={naive_rate:.0f} "
          f"(gate/naive = {gate_rate / naive_rate:.2f}x) max_ms={max(naive_times):.0f} "
          f"exceptions escaping={sum(escaped.values())} {dict(escaped.most_common(6))}")


def fuzz_loader(count: int, seed: int) -> None:
    rng = random.Random(seed)
    tokens = [b"1" * 5000, b"NaN", b"\\ud800", b"[" * 3000, b"{}", b"null", b"\xff\xfe", b"\x00", b"}{"]
    failures = 0
    outcomes: Counter[str] = Counter()
    start = time.perf_counter()
    for _ in range(count):
        edits = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.choice(["flip", "cut", "insert", "delete", "token"])
            where = rng.randrange(len(GOOD))
            edits.append({"flip": (kind, where, rng.randrange(8)), "cut": (kind, where),
                          "insert": (kind, where, rng.randbytes(rng.randint(1, 16))),
                          "delete": (kind, where, rng.randint(1, 64)),
                          "token": (kind, where, rng.choice(tokens))}[kind])
        try:
            parse_case_json(mutate_bytes(GOOD, edits)).model_dump_json()
            outcomes["accepted"] += 1
        except CaseError as exc:
            exc.message.encode("utf-8")
            outcomes["CaseError"] += 1
        except BaseException:
            failures += 1
    elapsed = time.perf_counter() - start
    print(f"case loader fuzz: examples={count} failures={failures} examples/s={count / elapsed:.0f} {dict(outcomes)}")


def hostile_set() -> dict[str, bytes]:
    return {
        "bomb-30000x30000.png": files.bomb_png(), "zip-as.jpg": files.zip_file(),
        "polyglot-jpeg-as.pdf": files.polyglot_jpeg_pdf(), "polyglot-jpeg-as.jpg": files.polyglot_jpeg_pdf(),
        "truncated.jpg": files.jpeg(2480, 3508)[:100_000], "encrypted.pdf": files.encrypted_pdf(),
        "10000-pages.pdf": files.many_pages_pdf(10_000), "operators-6M.pdf": files.operator_bomb_pdf(),
        "page-14400pt.pdf": files.pdf(width=14400, height=14400),
        "rgb-39.7Mpx-at-cap.png": files.flat_png(6300, 6300, "rgb"),
        "cmyk-6324px.jpg": files.encode(Image.new("CMYK", (6324, 6324), (200, 10, 10, 0)), "JPEG"),
    }


ONE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
sys.argv = ["x", "--one", {mode!r}, {path!r}]
from bench.fuzz import one
one()
"""


def one() -> None:
    """(In a fresh interpreter) judge one file by gate or naive; print ms, RSS and CPU as JSON."""
    mode, path = sys.argv[2], Path(sys.argv[3])
    data = path.read_bytes()
    base = _status_mb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM): import-time peaks do not count
    rules = load_rule_set()
    began = time.perf_counter()
    try:
        if mode == "gate":  # the whole upload stage, the file as the authorization slot
            upload = path.parent / "case" / "uploads" / f"authorization{path.suffix}"
            upload.parent.mkdir(parents=True, exist_ok=True)
            upload.write_bytes(data)
            result = intake(CaseFolder(path.parent / "case", fuzz_case(), {"authorization": upload}), rules)
            mine = [f for f in result.findings if f.slot == "authorization" and f.status.value != "skipped"]
            bad = [f"{f.rule} {f.status.value}" for f in mine if f.status.value != "pass"]
            pages = len(result.uploads["authorization"].pages) if "authorization" in result.uploads else 0
            outcome = (", ".join(bad) or "all pass") + f"; pages={pages}"
        else:
            outcome = f"pixels={naive_decode(data, path.name)}"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
    ms = (time.perf_counter() - began) * 1000
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"ms": ms, "rss_mb": _status_mb("VmHWM:") - base, "child_cpu_s": kids.ru_utime + kids.ru_stime,
                      "child_rss_mb": max(kids.ru_maxrss / 1024 - base, 0), "outcome": outcome}))


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(key))


def run_one(mode: str, path: Path) -> dict[str, object]:
    code = ONE.format(root=str(ROOT), mode=mode, path=str(path))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"ms": 30000.0, "rss_mb": float("nan"), "child_cpu_s": 0.0, "child_rss_mb": 0.0,
                "outcome": "killed at 30 s"}


def hostile() -> None:
    print("hostile set (fresh interpreter each; gate = intake() with the file as the authorization slot;"
          " RSS = peak above the interpreter after imports):")
    print(f"  {'file':26s} {'gate ms':>8s} {'gate MB':>8s} {'child cpu s':>11s} {'child MB':>9s}   "
          f"{'naive ms':>9s} {'naive MB':>9s}  gate findings / naive outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in hostile_set().items():
            path = Path(tmp) / name
            path.write_bytes(data)
            gate, naive = run_one("gate", path), run_one("naive", path)
            print(f"  {name:26s} {gate['ms']:8.0f} {gate['rss_mb']:8.0f} {gate['child_cpu_s']:11.2f} "
                  f"{gate['child_rss_mb']:9.0f}   {naive['ms']:9.0f} {naive['rss_mb']:9.0f}  "
                  f"{gate['outcome']} / {naive['outcome']}")


def good_files() -> None:
    print("good files (in-process, median of 15; gate = sniff + decode to BGR pages, naive = Pillow to RGB array):")
    a4 = files.page_image(2480, 3508)
    samples = {
        "A4 300dpi JPEG q85": files.encode(a4, "JPEG", quality=85, dpi=(300, 300)),
        "A4 300dpi PNG": files.encode(a4, "PNG"),
        "A4 scan PDF (1 page)": files.pdf(),
    }
    for name, data in samples.items():
        gate, naive = [], []
        for _ in range(15):
            began = time.perf_counter()
            decode(data, sniff(data), Limits())
            gate.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            if name.endswith("(1 page)"):
                naive_decode(data, "x.pdf")
            else:
                np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            naive.append((time.perf_counter() - began) * 1000)
        g, n = statistics.median(gate), statistics.median(naive)
        print(f"  {name:22s} gate {g:6.1f} ms   naive {n:6.1f} ms   gate/naive = {g / n:.2f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one()
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--loader", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=1_500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-hostile", action="store_true")
    args = parser.parse_args()
    print(f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs, "
          f"python {sys.version.split()[0]}, pymupdf {pymupdf.VersionBind}, Pillow {Image.__version__}")
    if args.examples:
        fuzz_gate(args.examples, min(args.naive, args.examples), args.seed)
    if args.loader:
        fuzz_loader(args.loader, args.seed)
    if not args.skip_hostile:
        hostile()
    good_files()


if __name__ == "__main__":
    main()
