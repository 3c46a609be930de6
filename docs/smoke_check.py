"""Browser smoke check of the built documentation site.

    python docs/smoke_check.py [docs/_build/html] [--browser /usr/bin/chromium]
                               [--screenshots docs/_build/smoke]

1. Every internal link of every HTML page resolves: each ``href`` / ``src`` that is not an
   external URL names a file of the site, and its ``#anchor`` an ``id`` (or ``name``) in that
   file.
2. ``searchindex.js`` exists and lists every public name (the ``__all__`` of the modules the
   API reference documents).
3. The site is served on a free localhost port and opened in headless Chromium: the index,
   an API page and a gallery page are rendered to screenshots, which must not be blank
   (enough colours and non-white pixels), and their DOM must hold the page title and the
   expected content; the search page, run with its JavaScript, must find ``tune_focal``.

Exit status 0 when everything holds, 1 with one line per problem otherwise. Needs Chromium
(Debian: ``apt-get install -y chromium``) and Pillow. Not part of the main test suite.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PUBLIC_MODULES = (
    "gbfocal", "gbfocal.losses", "gbfocal.sklearn", "gbfocal.multioutput",
    "gbfocal.multilabel", "gbfocal.tuning", "gbfocal.persist", "gbfocal.dask", "gbfocal.gpu",
    "gbfocal.xgboost", "gbfocal.adapters",
)
# page -> (text the <title> must contain, ids or texts the DOM must contain)
PAGES = {
    "index.html": ("gbfocal", ["Getting started", "What and why"]),
    "api/sklearn.html": ("gbfocal.sklearn", ["gbfocal.sklearn.FocalLGBMClassifier",
                                             "gbfocal.sklearn.FocalXGBClassifier",
                                             "predict_proba"]),
    "auto_examples/breast_cancer.html": ("breast-cancer", ["sphx-glr-multi-img",
                                                           "verdict"]),
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
]


# ---------------------------------------------------------------------------- links
class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(str(values[key]))
        for key in ("href", "src"):
            if values.get(key) and tag in ("a", "link", "img", "script", "iframe", "source"):
                self.links.append(str(values[key]))


@functools.cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site: Path) -> Iterator[str]:
    pages = sorted(site.rglob("*.html"))
    if not pages:
        yield f"{site}: no HTML pages"
    for page in pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//") or link.startswith(("mailto:", "data:")):
                continue  # external: not checked (the build runs offline)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: {link}"
            if not target.is_file():
                yield f"broken link {where} (no file {target})"
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target).ids:
                    yield f"broken anchor {where} (no id {parts.fragment!r})"


# ---------------------------------------------------------------------- search index
def public_names() -> list[str]:
    sys.path.insert(0, str(ROOT))
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names += [f"{module_name}.{n}" for n in module.__all__ if not n.startswith("__")]
    return names


def search_index_problems(site: Path) -> Iterator[str]:
    path = site / "searchindex.js"
    if not path.is_file():
        yield "searchindex.js is missing"
        return
    text = path.read_text(encoding="utf-8")
    match = re.search(r"Search\.setIndex\((.*)\)\s*;?\s*$", text, re.S)
    if not match:
        yield "searchindex.js: no Search.setIndex(...)"
        return
    index = json.loads(match.group(1))
    documented = set()
    for prefix, entries in index.get("objects", {}).items():
        for entry in entries:
            name = entry[-1] if isinstance(entry[-1], str) else entry[0]
            documented.add(f"{prefix}.{name}" if prefix else name)
    # a public name re-exported elsewhere is documented once, under its defining module
    short = {name.rpartition(".")[2] for name in documented}
    for name in public_names():
        if name not in documented and name.rpartition(".")[2] not in short:
            yield f"searchindex.js does not list {name}"


# --------------------------------------------------------------------------- browser
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # a free port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def chromium(browser: str, profile: Path, *args: str, timeout: int = 90) -> str:
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def blank_screenshot(path: Path) -> str | None:
    """Why the screenshot looks blank, or None when it shows a rendered page."""
    from PIL import Image

    if not path.is_file() or path.stat().st_size == 0:
        return "no screenshot written"
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        pixels = rgb.width * rgb.height
        inked = sum(count for count, colour in colours if min(colour) < 235)
    if len(colours) < 32:
        return f"only {len(colours)} distinct colours"
    if inked < 0.01 * pixels:
        return f"only {inked / pixels:.2%} of the pixels are not white"
    return None


def browser_problems(site: Path, browser: str, shots: Path) -> Iterator[str]:
    shots.mkdir(parents=True, exist_ok=True)
    server, base = serve(site)
    try:
        with tempfile.TemporaryDirectory(prefix="gbfocal-smoke-") as tmp:
            for number, (page, (title, expected)) in enumerate(PAGES.items()):
                url = base + page
                profile = Path(tmp) / f"profile-{number}"  # a new profile for every run
                shot = shots / (page.replace("/", "_").removesuffix(".html") + ".png")
                chromium(browser, profile, f"--screenshot={shot}", url)
                why = blank_screenshot(shot)
                if why:
                    yield f"{page}: the screenshot looks blank: {why} ({shot})"
                dom = chromium(browser, profile, "--dump-dom", url)
                found = re.search(r"<title>(.*?)</title>", dom, re.S)
                if not found or title.lower() not in found.group(1).lower():
                    yield (f"{page}: title {found.group(1).strip() if found else None!r} "
                           f"lacks {title!r}")
                for text in expected:
                    if text not in dom:
                        yield f"{page}: the rendered page lacks {text!r}"
                print(f"ok   {page}: {shot}")
            # the search page builds its results with JavaScript from searchindex.js
            dom = chromium(browser, Path(tmp) / "profile-search", "--virtual-time-budget=10000",
                           "--dump-dom", base + "search.html?q=tune_focal")
            if "api/tuning.html#gbfocal.tuning.tune_focal" not in dom:
                yield "search.html?q=tune_focal does not list gbfocal.tuning.tune_focal"
            else:
                print("ok   search.html?q=tune_focal finds gbfocal.tuning.tune_focal")
    finally:
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default=str(DOCS / "_build" / "html"),
                        help="the built HTML (default: docs/_build/html)")
    parser.add_argument("--browser", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", default=str(DOCS / "_build" / "smoke"),
                        help="where the screenshots go (default: docs/_build/smoke)")
    args = parser.parse_args(argv)
    site = Path(args.site).resolve()
    problems = list(broken_links(site))
    pages = len(list(site.rglob("*.html")))
    print(f"{'ok  ' if not problems else 'FAIL'} internal links of {pages} HTML pages")
    found = list(search_index_problems(site))
    print(f"{'ok  ' if not found else 'FAIL'} searchindex.js lists every public name")
    problems += found
    if not Path(args.browser).is_file():
        problems.append(f"no browser at {args.browser} (apt-get install -y chromium)")
    else:
        problems += browser_problems(site, args.browser, Path(args.screenshots))
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"smoke check: {'passed' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
