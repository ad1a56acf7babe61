"""The book builds with warnings as errors, executes its code, and stays inside the site."""

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
import yaml
from browser_support import ROOT, ensure_built

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
    """The whole book built once by the tests, as `make book` does (warnings are errors)."""
    return ensure_built()


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
        # myst-nb marks error and stderr output cells with these classes.
        assert 'class="output traceback' not in article, f"{source} shows an error"
        assert 'class="output stderr' not in article, f"{source} shows stderr output"


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


SEED = ROOT.parent / "shared" / "seed"
# Pages that are not chapters: the front page, the reference pages, the interactive drills.
NOT_CHAPTERS = ("book/index", "book/glossary", "book/api", "book/quiz/")


def seed_glossary_terms() -> list[str]:
    """The terms of the study guide's glossary table (after its 'Term<TAB>Definition' row)."""
    text = next(SEED.glob("*.txt")).read_text(encoding="utf-8")
    table = text.split("Term\tDefinition", 1)[1]
    return [line.split("\t", 1)[0].strip() for line in table.splitlines() if "\t" in line]


def test_every_study_guide_term_has_a_glossary_entry(built_site):
    terms = seed_glossary_terms()
    assert len(terms) == 23
    glossary = (built_site / "book/glossary.html").read_text(encoding="utf-8")
    defined = {re.sub(r"<[^>]+>|#", "", name).strip().lower()
               for name in re.findall(r"<dt[^>]*>(.*?)</dt>", glossary, re.S)}
    missing = [term for term in terms if term.lower() not in defined]
    assert not missing, f"glossary entries missing for: {missing}"


def test_every_chapter_links_at_least_three_glossary_terms(built_site):
    for source in toc_files():
        if source.startswith(NOT_CHAPTERS):
            continue
        page = (built_site / f"{source}.html").read_text(encoding="utf-8")
        linked = set(re.findall(r'href="[^"]*glossary\.html#(term-[^"]+)"', page))
        assert len(linked) >= 3, f"{source} links only {sorted(linked)}"


def test_essays_are_600_to_1200_words():
    for essay in sorted((ROOT / "book/essays").glob("essay*.md")):
        text = essay.read_text(encoding="utf-8")
        model = text.split("## A model essay", 1)[1].split("## Self-assessment rubric", 1)[0]
        words = len(re.findall(r"[A-Za-z0-9'-]+", re.sub(r"\(.*?\)=|\{term\}|`", " ", model)))
        assert 600 <= words <= 1200, f"{essay.name}: {words} words"


def test_repository_shares_no_sentence_with_the_study_guide():
    result = subprocess.run(
        [sys.executable, str(ROOT.parent / "shared/tools/seed_overlap.py"), str(ROOT)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
