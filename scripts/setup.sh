#!/usr/bin/env bash
# Install everything govmilter and its tests need on a Debian machine (run as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postfix libmilter-dev miltertest dnsmasq-base prometheus gcc python3-dev
              fonts-dejavu-core)
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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import govmilter, Milter, miltertest, pytest, pypdfium2, fpdf" 2>/dev/null \
   || [ pyproject.toml -nt .setup-stamp ] 2>/dev/null; then
  echo "setup: installing govmilter and its test dependencies with pip"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e ".[test]"
  touch .setup-stamp
fi
