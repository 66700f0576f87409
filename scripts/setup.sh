#!/usr/bin/env bash
# Install everything govmilter and its tests need on a Debian machine (run as root).
# Idempotent: packages already present are not fetched again.
#
# govmilter goes into $PYTHON (default python3) with pip, editable (`pip install -e .[test]`).
# When that interpreter cannot take it -- Debian's own /usr/bin/python3 is "externally managed"
# (PEP 668) and has no pip unless python3-pip is installed -- it goes into the virtual
# environment $GOVMILTER_VENV (default .venv in this clone) made from $PYTHON instead.
# scripts/run.sh and scripts/test.sh source this file and then use $PYTHON, which is left
# pointing at the interpreter that has govmilter (.venv/bin/python in the second case).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
GOVMILTER_VENV=${GOVMILTER_VENV:-.venv}

# Whether $PYTHON itself can take a pip install: it has pip, and it is a virtual environment or
# not marked EXTERNALLY-MANAGED (the marker sits in the standard library's directory).
python_takes_pip() {
  "$PYTHON" -m pip --version >/dev/null 2>&1 && "$PYTHON" - <<'EOF' 2>/dev/null
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
marked = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if in_venv or not marked else 1)
EOF
}

# libarchive-tools brings libarchive (libarchive13, libarchive13t64 on Debian 13), which reads
# RAR, 7z, tar, gzip/bzip2/xz attachments through libarchive-c; p7zip-full,
# bzip2, xz-utils: the tests build archives with the real tools.
# OCR: Tesseract 5 with its Vietnamese and orientation data; tesserocr is built (pip, below)
# against Debian's libtesseract, so it needs the headers, pkg-config and a C++ compiler.
APT_PACKAGES=(postfix libmilter-dev miltertest dnsmasq-base prometheus gcc python3-dev
              fonts-dejavu-core systemd libarchive-tools p7zip-full bzip2 xz-utils
              tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd libtesseract-dev
              libleptonica-dev pkg-config g++
              postgresql  # postgresql: the incident store's tests run a private cluster
              chromium chromium-driver  # the console's tests drive Debian's Chromium (Selenium)
              # govmilter report --format pdf converts its DOCX with LibreOffice; Liberation
              # Serif stands in for Times New Roman; the tests read the PDF with poppler
              libreoffice-writer-nogui fonts-liberation2 poppler-utils
              rspamd  # the benchmark's peer (bench/peer.py) and its smoke test
              nginx)  # docs/console.md's reverse proxy, run by tests/console/test_nginx.py
use_venv=no
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  case "$PYTHON" in
    python3|/usr/bin/python3) APT_PACKAGES+=(python3) ;;  # a minimal Debian without Python
    *) echo "setup: PYTHON=$PYTHON: no such interpreter" >&2; exit 1 ;;
  esac
  use_venv=yes
elif ! python_takes_pip; then
  use_venv=yes
fi
[ "$use_venv" = no ] || APT_PACKAGES+=(python3-venv)  # Debian's python3 -m venv needs it

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks how it is used; a local-only answer keeps it off port 25 (tests use private instances).
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's postinsts start a system rspamd (fixed ports 11332-11334) and nginx (port 80)
  # where an init system lets them; the tests start their own on free ports: stop and disable.
  for service in rspamd nginx; do
    [[ " ${missing[*]} " == *" $service "* ]] || continue
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now "$service" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$service" ]; then
      "/etc/init.d/$service" stop >/dev/null 2>&1 || true
      update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
fi

stamp=.setup-stamp
if [ "$use_venv" = yes ]; then
  # (re)made when missing, broken, or made from another interpreter than $PYTHON
  base=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')
  if [ "$("$GOVMILTER_VENV/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" \
       != "$base" ]; then
    echo "setup: $PYTHON cannot take pip installs: making the virtual environment $GOVMILTER_VENV"
    "$PYTHON" -m venv --clear "$GOVMILTER_VENV"
  fi
  GOVMILTER_VENV=$(cd "$GOVMILTER_VENV" && pwd)
  PYTHON=$GOVMILTER_VENV/bin/python
  stamp=$GOVMILTER_VENV/.setup-stamp
fi

if ! "$PYTHON" -c "import govmilter, Milter, miltertest, pytest, pypdfium2, fpdf, mkdocs, idna, confusables, libarchive, sqlalchemy, alembic, psycopg, olefile, flask, waitress, argon2, selenium, docx, zlib_ng, pybase64" \
     2>/dev/null \
   || ! "$PYTHON" -c "import PIL, tesserocr, pillow_heif" 2>/dev/null \
   || [ pyproject.toml -nt "$stamp" ] 2>/dev/null; then
  echo "setup: installing govmilter and its test dependencies with pip"
  # tesserocr from source, against Debian's libtesseract and its tessdata (not a wheel's copy)
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-binary tesserocr -e ".[test]"
  touch "$stamp"
fi
[ "$use_venv" = no ] || echo "setup: govmilter is installed in $GOVMILTER_VENV ($GOVMILTER_VENV/bin/govmilter)"
