#!/usr/bin/env bash
# Installs the unmodified third-party clients the tests drive (marathon-python 0.13.0, pymesos 0.3.15) and
# selenium 4.27.1 (drives Debian's chromium through /usr/bin/chromedriver for the web UI test) into a
# virtualenv at $1 (idempotent). pymesos needs http-parser 0.9.0, whose shipped C code no longer compiles on
# current Pythons, so its Cython source is regenerated first.
set -euo pipefail
PYENV=$1
if "$PYENV/bin/python" -c 'import marathon, pymesos, selenium' >/dev/null 2>&1; then
    exit 0
fi
python3 -m venv "$PYENV"
pip=("$PYENV/bin/pip" install -q --disable-pip-version-check)
"${pip[@]}" "cython<3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYENV/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: http-parser==0.9.0 -d "$work"
tar xzf "$work/http-parser-0.9.0.tar.gz" -C "$work"
"$PYENV/bin/cython" -3 "$work/http-parser-0.9.0/http_parser/parser.pyx" -o "$work/http-parser-0.9.0/http_parser/parser.c" 2>/dev/null
"${pip[@]}" "$work/http-parser-0.9.0"
"${pip[@]}" pymesos==0.3.15 marathon==0.13.0
"${pip[@]}" selenium==4.27.1
