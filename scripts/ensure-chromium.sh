#!/usr/bin/env bash
# Install Debian's Chromium when it is missing: the experiments report's browser test opens the page
# in it headless (through Playwright, with no browser download of its own). Best effort: a machine
# where apt cannot install it runs the suite with that one test skipped, and says so.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed and cannot be installed here: the report's browser test will be skipped"
  exit 0
fi
echo "installing Debian's chromium for the report's browser test"
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
  || echo "could not install chromium: the report's browser test will be skipped"
exit 0
