#!/usr/bin/env bash
# Build gbfocal's documentation site, warnings as errors, and test the pages' code:
#
#   pip install -e ".[docs]"      # once
#   bash docs/build.sh            # -> docs/_build/html/index.html
#   bash docs/build.sh --smoke    # the same, then the browser smoke check (needs chromium)
#
# 1. Sphinx, from a fresh environment (-E: every page and docstring read again, so every
#    warning shows), warnings as errors (-W), every cross-reference checked (-n), all
#    problems listed before failing (--keep-going). The build writes the benchmark tables
#    (docs/_generated, from benchmarks/*.json) and runs the examples gallery (sphinx-gallery
#    reruns an example only when its source changed).
# 2. The docs pages' own examples (the ">>>" blocks of docs/**/*.md) run as doctests.
# 3. With --smoke: docs/smoke_check.py serves the site on a free port and opens it in
#    headless Chromium (screenshots in docs/_build/smoke).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=1 ;;
        *) echo "usage: bash docs/build.sh [--smoke]" >&2; exit 2 ;;
    esac
done

start=$SECONDS
echo "== sphinx: docs -> docs/_build/html"
# a clean output folder: Sphinx leaves pages it no longer writes (and viewcode keeps its
# source pages while they are newer than the module), which would hide broken links
rm -rf docs/_build/html
python -m sphinx -E -W --keep-going -n -b html docs docs/_build/html

echo "== doctests of the docs pages"
# -o addopts="": not the main suite's --doctest-modules (docs/conf.py is no test module)
python -m pytest -q -p no:cacheprovider -o addopts="" --doctest-glob="*.md" \
    --ignore=docs/_build --ignore=docs/auto_examples --ignore=docs/_gallery_src \
    --ignore=docs/_generated docs

if [ "$smoke" = 1 ]; then
    echo "== browser smoke check"
    python docs/smoke_check.py docs/_build/html
fi
echo "== docs built in $((SECONDS - start)) s: docs/_build/html/index.html"
