"""The table of contents teaches in order, and the API reference has a page per module."""

import pkgutil
import re

from browser_support import ROOT
from test_book import toc_files

import mlcycle_ref

FIRST_CHAPTER = "book/personas/index"
# Pages for setting up and teaching, which a first reading of the course should not pass through.
AFTER_THE_COURSE = ("book/start/running-labs", "book/start/instructors")


def test_next_from_the_home_page_leads_into_the_course():
    pages = toc_files()
    assert pages[0] == "book/index"
    assert pages[1:3] == ["book/start/reading", FIRST_CHAPTER], pages[:4]


def test_setup_and_teaching_pages_come_after_the_course():
    pages = toc_files()
    last_practice = max(i for i, page in enumerate(pages) if page.startswith("book/quiz/"))
    last_essay = max(i for i, page in enumerate(pages) if page.startswith("book/essays/"))
    for page in AFTER_THE_COURSE:
        assert pages.index(page) > max(last_practice, last_essay), page


def test_every_module_has_its_own_api_page():
    pages = [page for page in toc_files() if page.startswith("book/api/")]
    documented = {}
    for page in pages:
        source = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        documented[page] = re.findall(r"```\{api-module\}\s+(\S+)", source)
    modules = sorted(f"mlcycle_ref.{m.name}" for m in pkgutil.iter_modules(mlcycle_ref.__path__)
                     if not m.name.startswith("_"))
    on_pages = sorted(name for names in documented.values() for name in names)
    assert on_pages == modules, "each module of mlcycle_ref needs one page under book/api/"
    assert all(len(names) <= 1 for names in documented.values()), documented
