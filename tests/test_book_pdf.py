"""The whole book as a PDF: built as `make pdf` builds it, it opens, has a title page, a
numbered table of contents and every chapter of the website, and the site links to it."""

import re
import subprocess
import sys

import pytest
from browser_support import OUTPUT, ROOT, SITE, build_book, builds_locked, ensure_built
from pypdf import PdfReader
from test_book import toc_files

from mlcycle_ref import pdf

PDF = SITE / "mlcycle-book.pdf"


@pytest.fixture(scope="module")
def book_pdf():
    """Build the single-page HTML and print it, as `make pdf` does."""
    ensure_built()
    with builds_locked():  # the single-page build shares the html build's doctrees
        single = build_book("--builder", "singlehtml")
        assert single.returncode == 0, (single.stdout + single.stderr)[-4000:]
        printed = subprocess.run(
            [sys.executable, "-m", "mlcycle_ref.pdf", str(OUTPUT / "_build/singlehtml/index.html"),
             str(PDF), "--toc", str(ROOT / "_toc.yml"), "--config", str(ROOT / "_config.yml")],
            capture_output=True, text=True, timeout=900)
    assert printed.returncode == 0, printed.stderr[-3000:]
    return PdfReader(PDF), printed.stdout


def test_the_pdf_opens_with_a_title_page(book_pdf):
    reader, _ = book_pdf
    assert len(reader.pages) > 50
    assert "machine-learning lifecycle" in reader.pages[0].extract_text()


ENTRY = re.compile(r"^(.+?)\s+(\d+)\s*$", re.MULTILINE)


def contents_entries(reader: PdfReader) -> list[tuple[str, int]]:
    """The (title, page) lines of the contents: the sheets after the title page made mostly
    of such lines."""
    entries = []
    for page in reader.pages[1:]:
        text = page.extract_text()
        lines = [line for line in text.splitlines() if line.strip()]
        found = [(title.strip(), int(number)) for title, number in ENTRY.findall(text)]
        if len(found) < len(lines) / 2:
            break
        entries += found
    return entries


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def test_the_contents_number_every_chapter_of_the_table_of_contents(book_pdf):
    reader, report = book_pdf
    chapters = len(toc_files()) - 1  # the home page opens the book after the contents
    assert f": {chapters} chapters" in report, report
    entries = contents_entries(reader)
    assert len(entries) >= chapters, f"only {len(entries)} numbered entries"
    misplaced = [(title, number) for title, number in entries
                 if squeezed(title)[:20] not in squeezed(reader.pages[number - 1].extract_text())]
    assert not misplaced, misplaced
    assert [number for _, number in entries] == sorted(number for _, number in entries)
    # The outline (bookmarks) lets a reader jump to the chapters.
    assert len(reader.outline) >= 2


def test_each_contents_entry_links_to_the_sheet_it_names(book_pdf):
    reader, _ = book_pdf
    entries = contents_entries(reader)
    first_chapter = entries[0][1]  # the contents fill the sheets between it and the title
    destinations = reader.named_destinations
    targets = [str(link.get_object().get("/Dest")) for page in reader.pages[1:first_chapter - 1]
               for link in page.get("/Annots", [])]
    linked = [reader.get_destination_page_number(destinations[target]) + 1
              for target in targets if pdf.ANCHOR_FOUND.fullmatch(target)]
    assert linked == [number for _, number in entries]


def images_drawn(resources) -> int:
    """How many images a sheet's resources hold, those of its forms included (pypdf's
    ``page.images`` also parses every content stream, seconds for the whole book)."""
    count = 0
    for drawn in (resources.get("/XObject") or {}).values():
        drawn = drawn.get_object()
        if drawn["/Subtype"] == "/Image":
            count += 1
        elif drawn["/Subtype"] == "/Form":
            count += images_drawn(drawn.get("/Resources", {}))
    return count


def test_code_wraps_and_figures_are_printed(book_pdf):
    reader, report = book_pdf
    assert "0 blocks wider than the paper" in report, report
    images = sum(images_drawn(page.get("/Resources", {})) for page in reader.pages)
    single = pdf.follow_redirect(OUTPUT / "_build/singlehtml/index.html")
    figures = len(re.findall(r"<img[^>]+_images/", single.read_text(encoding="utf-8")))
    assert figures >= 10 and images >= figures, f"{images} images printed of {figures}"


def test_the_site_links_to_the_pdf(book_pdf):
    home = (SITE / "book/index.html").read_text(encoding="utf-8")
    assert 'href="../mlcycle-book.pdf"' in home
    assert PDF.is_file() and PDF.stat().st_size > 100_000
