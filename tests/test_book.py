"""The book builds with warnings as errors, executes its code, and stays inside the site."""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
OUTSIDE = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")


class _References(HTMLParser):
    """Collect what a page loads: scripts, stylesheets, icons, fonts, images, frames."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"}:
            self.loaded += [attrs[key] for key in ("src", "srcset") if attrs.get(key)]
        elif tag == "link" and attrs.get("href"):
            if set((attrs.get("rel") or "").split()) - {"canonical", "next", "prev", "index",
                                                         "search", "alternate", "author"}:
                self.loaded.append(attrs["href"])
        elif tag == "object" and attrs.get("data"):
            self.loaded.append(attrs["data"])


def page_references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.loaded


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files += [section["file"] for section in chapter.get("sections", [])]
    return files


@pytest.fixture(scope="session")
def built_site():
    """Build the whole book once, as `make book` does (warnings are errors)."""
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going", "--all"],
        capture_output=True, text=True, timeout=1500,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return SITE


def test_reference_finder_sees_scripts_styles_and_images():
    html = ('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="a.css">'
            '<img src="p.png"><a href="https://example.org">a link is fine</a>')
    assert page_references(html) == ["https://cdn.example/x.js", "a.css", "p.png"]


def test_every_toc_page_renders_non_empty(built_site):
    for source in toc_files():
        page = built_site / f"{source}.html"
        assert page.is_file(), f"{source} was not built"
        article = page.read_text(encoding="utf-8")
        body = re.search(r'<article class="bd-article">(.*?)</article>', article, re.S)
        assert body and len(re.sub(r"<[^>]+>", "", body.group(1)).strip()) > 100, source
        assert "Traceback (most recent call last)" not in article, source


def test_no_page_loads_anything_from_outside_the_site(built_site):
    outside = []
    for page in built_site.rglob("*.html"):
        outside += [f"{page.relative_to(built_site)}: {ref}"
                    for ref in page_references(page.read_text(encoding="utf-8"))
                    if OUTSIDE.match(ref)]
    for sheet in built_site.rglob("*.css"):
        for match in CSS_URL.finditer(sheet.read_text(encoding="utf-8", errors="replace")):
            ref = match.group(1) or match.group(2)
            if OUTSIDE.match(ref.strip()):
                outside.append(f"{sheet.relative_to(built_site)}: {ref}")
    assert not outside, "\n".join(outside)


def test_maths_is_served_by_the_site(built_site):
    page = (built_site / "book/start/reading.html").read_text(encoding="utf-8")
    scripts = [ref for ref in page_references(page) if "tex-mml-chtml" in ref]
    assert scripts, "the page with maths loads no MathJax"
    local = (built_site / "book/start" / scripts[0].split("?")[0]).resolve()
    assert local.is_file() and local.stat().st_size > 100_000
    fonts = local.parent / "output/chtml/fonts/woff-v2"
    assert any(fonts.glob("*.woff"))


def test_code_cells_are_executed(built_site):
    page = (built_site / "book/start/reading.html").read_text(encoding="utf-8")
    assert re.search(r"Python 3\.\d+", page), "the executed output is missing"
