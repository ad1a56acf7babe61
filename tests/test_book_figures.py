"""Every figure the package draws for the book is legible at the width a reader sees it.

Each figure made by ``mlcycle_ref.plots`` records in its PNG the height of its smallest text
in pixels and any labels that overlap. In Chromium, at a desktop and at a phone width, each
picture's shown width divided by its own width scales that text to what the reader sees.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser_support import DESKTOP, LAUNCH, PHONE, SITE, ensure_built
from PIL import Image
from playwright.sync_api import sync_playwright
from test_book import toc_files

from mlcycle_ref.plots import OVERLAPS_KEY, SMALLEST_TEXT_KEY, new_figure, text_report

SMALLEST_READABLE_PX = 9
IMAGE_SOURCE = re.compile(r'<img[^>]*\ssrc="([^"]+\.png)"')
SHOWN = """() => [...document.querySelectorAll("article img")].map((img) => ({
  src: img.src, shown: img.getBoundingClientRect().width, natural: img.naturalWidth}))"""


def png_text(path: Path) -> dict[str, str]:
    with Image.open(path) as picture:
        return dict(getattr(picture, "text", {}) or picture.info)


def pages_with_measured_figures() -> list[str]:
    """The built pages that include a PNG carrying text measurements: the only pages the
    browser needs to open (a superset of those showing one in their article)."""
    pages = []
    for source in toc_files():
        html = SITE / f"{source}.html"
        pictures = {html.parent / unquote(src) for src in IMAGE_SOURCE.findall(html.read_text())}
        if any(SMALLEST_TEXT_KEY in png_text(path) for path in pictures if path.is_file()):
            pages.append(source)
    return pages


@pytest.fixture(scope="module")
def shown_figures():
    """For each width, every measured figure: (page, file, smallest text as shown in px)."""
    ensure_built()
    sources = pages_with_measured_figures()
    measured = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**LAUNCH)
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = browser.new_page(viewport=viewport)
            rows = []
            for source in sources:
                page.goto((SITE / f"{source}.html").as_uri())
                page.wait_for_load_state("load")
                for image in page.evaluate(SHOWN):
                    path = Path(unquote(urlsplit(image["src"]).path))
                    text = png_text(path) if path.suffix == ".png" else {}
                    if SMALLEST_TEXT_KEY in text and image["natural"]:
                        scale = image["shown"] / image["natural"]
                        rows.append((source, path.name, float(text[SMALLEST_TEXT_KEY]) * scale,
                                     text.get(OVERLAPS_KEY, "")))
            measured[name] = rows
            page.close()
        browser.close()
    return measured


def test_the_measure_sees_small_text_and_overlaps():
    figure = new_figure((4, 3), dpi=100)
    ax = figure.subplots()
    ax.set_xticks([0, 0.02], ["first label", "second label"], fontsize=5)
    report = text_report(figure)
    assert report.smallest_px == pytest.approx(5 * 100 / 72)
    assert report.overlaps == [("first label", "second label")]


def test_the_book_shows_measured_figures(shown_figures):
    assert len(shown_figures["desktop"]) >= 10, "too few figures carry their text measurements"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_figure_text_is_at_least_9px_as_shown(shown_figures, width):
    small = [f"{source}: {name} {px:.1f} px" for source, name, px, _ in shown_figures[width]
             if px < SMALLEST_READABLE_PX]
    assert not small, f"figures with text under {SMALLEST_READABLE_PX} px at {width} width:\n" \
        + "\n".join(small)


def test_no_figure_has_overlapping_labels(shown_figures):
    overlapping = sorted({f"{source}: {name}: {pairs}"
                          for source, name, _, pairs in shown_figures["desktop"] if pairs})
    assert not overlapping, "\n".join(overlapping)
