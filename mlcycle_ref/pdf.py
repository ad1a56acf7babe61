"""The whole book as one PDF, printed from the single-page HTML build by Chromium.

``jupyter-book build . --builder singlehtml`` puts every page of the table of contents into
one HTML file. This module opens that file in the Debian Chromium the browser tests use
(driven by Playwright, so no browser is downloaded), turns the website into a book - a title
page, a table of contents, each page of the site starting on a new sheet, code that wraps
instead of running off the paper - and prints it with ``page.pdf``.

Chromium cannot number the pages of a table of contents by itself, so the book is printed
twice. Each entry of the contents links to an anchor at the start of its chapter, and Chromium
turns such links into named destinations: the first print says on which sheet each anchor
landed, and the second print fills those numbers in. The numbers take the room of the
placeholders they replace, so both prints break their pages in the same places, and in the
PDF a reader can click an entry to go to its chapter.

Run it as ``python -m mlcycle_ref.pdf _build/singlehtml/index.html _build/html/book.pdf``
(``make pdf`` does).
"""

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: Chromium from Debian; the same arguments as the browser tests (root needs --no-sandbox).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ANCHOR = "mlcycle-chapter-{}"
ANCHOR_FOUND = re.compile(r"/?mlcycle-chapter-(\d+)")

#: The site's navigation has no place on paper; code, tables and figures must fit the sheet.
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .prev-next-area,
.bd-footer, .bd-footer-article, .bd-footer-content, footer, .headerlink, #pst-back-to-top,
.search-button-field, .theme-switch-button, #pst-skip-link, .mlq-controls-only,
button.copybtn, .cell_input .copybtn { display: none !important; }
html, body { background: white !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width {
  max-width: none !important; width: auto !important; padding: 0 !important; margin: 0 !important;
}
body { font-size: 10.5pt; }
pre, pre code, .highlight pre, div.output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important;
  max-height: none !important;
}
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
figure, .cell_output img, table { break-inside: avoid; }
table { font-size: 8.5pt; max-width: 100%; }
table.dataframe { font-size: 7pt; }
table th, table td { white-space: normal !important; overflow-wrap: anywhere; padding: 1px 3px; }
.table-wrapper, .pst-scrollable-table-container, div.output { overflow: visible !important; }
h1, h2, h3 { break-after: avoid; }
details { display: block; }
details > * { display: block !important; }
details.hide > summary, .onlyprint, section#contents > h2, .visually-hidden {
  display: none !important;
}
.mlcycle-chapter-start { break-before: page; }
.mlcycle-anchor { position: absolute; }
#mlcycle-title { height: 240mm; display: flex; flex-direction: column; justify-content: center;
  text-align: center; break-after: page; }
#mlcycle-title h1 { font-size: 26pt; margin-bottom: 1em; }
#mlcycle-title p { font-size: 13pt; color: #333; }
#mlcycle-contents { break-after: page; }
#mlcycle-contents h2 { font-size: 18pt; margin-bottom: 0.6em; }
#mlcycle-contents .part { font-weight: bold; margin-top: 0.7em; }
#mlcycle-contents .entry { display: flex; gap: 0.3em; line-height: 1.45; }
#mlcycle-contents .entry.section { padding-left: 1.5em; }
#mlcycle-contents .entry .title { flex: none; max-width: 85%; color: inherit;
  text-decoration: none; }
#mlcycle-contents .entry .leader { flex: 1; border-bottom: 1px dotted #777; margin-bottom: 0.3em; }
#mlcycle-contents .entry .page { flex: none; min-width: 2em; text-align: right; }
"""

#: Runs in the single page: finds where each page of the site starts, adds the title page,
#: the table of contents (numbers left blank, each entry a link to an anchor at its chapter's
#: start). Returns the titles.
PREPARE = """([title, subtitle, parts]) => {
  const starts = [...document.querySelectorAll("span[id^='document-']")];
  const chapters = starts.map((start, index) => {
    let heading = start.nextElementSibling;
    while (heading && !/^H[1-6]$/.test(heading.tagName)) {
      heading = heading.querySelector("h1, h2, h3, h4, h5, h6") || heading.nextElementSibling;
    }
    const anchor = heading || start;
    const title = heading ? heading.textContent.replace(/[#\\u00b6]\\s*$/, "").trim() : "";
    anchor.classList.add("mlcycle-chapter-start");
    const target = document.createElement("span");
    target.className = "mlcycle-anchor";
    target.id = "ANCHOR".replace("{}", index);
    anchor.prepend(target);
    return {docname: start.id.slice("document-".length), title};
  });
  const article = document.querySelector("article") || document.body;
  const page = document.createElement("section");
  page.id = "mlcycle-title";
  const h = document.createElement("h1");
  h.textContent = title;
  const p = document.createElement("p");
  p.textContent = subtitle;
  page.append(h, p);
  const contents = document.createElement("nav");
  contents.id = "mlcycle-contents";
  contents.setAttribute("aria-label", "Contents");
  const heading = document.createElement("h2");
  heading.textContent = "Contents";
  contents.append(heading);
  const partOf = Object.fromEntries(parts.flatMap(([caption, names]) =>
    names.map((name, i) => [name, [caption, i === 0]])));
  const depthOf = Object.fromEntries(parts.flatMap(([, names, depths]) =>
    names.map((name, i) => [name, depths[i]])));
  chapters.forEach((chapter, index) => {
    const [caption, first] = partOf[chapter.docname] || [null, false];
    if (caption && first) {
      const part = document.createElement("div");
      part.className = "part";
      part.textContent = caption;
      contents.append(part);
    }
    const entry = document.createElement("div");
    entry.className = "entry" + (depthOf[chapter.docname] ? " section" : "");
    entry.innerHTML = '<a class="title" href="#' + "ANCHOR".replace("{}", index) + '"></a>' +
                      '<span class="leader"></span>' +
                      '<span class="page" data-chapter="' + index + '">00</span>';
    entry.querySelector(".title").textContent = chapter.title;
    contents.append(entry);
  });
  article.prepend(page, contents);
  return chapters;
}""".replace("ANCHOR", ANCHOR)

#: With the root page in a subfolder (``book/index``), the single-page builder still writes
#: image paths relative to its output folder: point every image that failed there.
ROOT_IMAGES = """async (root) => {
  await Promise.all([...document.images].map((img) => img.decode().catch(() => null)));
  for (const img of document.images) {
    const src = img.getAttribute("src") || "";
    if (!img.naturalWidth && src && !/^(data:|[a-z]+:\\/\\/)/.test(src)) {
      img.src = new URL(src, root).href;
    }
  }
}"""

FILL_NUMBERS = """(numbers) => {
  document.querySelectorAll("#mlcycle-contents .page").forEach((cell) => {
    cell.textContent = String(numbers[Number(cell.dataset.chapter)]);
  });
}"""

#: Everything a page shows once its scripts have run: maths typeset, images decoded.
SETTLED = """async () => {
  // A lazy image never loads on a page nobody scrolls: load them all before printing.
  document.querySelectorAll("img[loading='lazy']").forEach((img) => { img.loading = "eager"; });
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  await Promise.all([...document.images].map((img) => img.decode().catch(() => null)));
}"""

#: Blocks that would run off the paper (at the printable width of an A4 sheet).
TOO_WIDE = """() => [...document.querySelectorAll("article pre, article table, article img")]
  .filter((block) => block.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .length"""
PRINTABLE_WIDTH_PX = 658  # 210 mm less two 18 mm margins, at 96 pixels to the inch

FOOTER = ('<div style="font-size:8pt;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span></div>')


@dataclass
class Chapter:
    """One page of the site as it appears in the PDF: its ``docname`` (path without suffix),
    its ``title`` and the ``page`` of the PDF it starts on.

    >>> Chapter("tools/pandas", "Tables with pandas", 41).page
    41
    """

    docname: str
    title: str
    page: int


@dataclass
class PrintedBook:
    """What :func:`print_book` made: its ``chapters`` and, in ``too_wide``, how many code
    blocks, tables or images were wider than the paper.

    >>> printed = PrintedBook([Chapter("index", "Welcome", 3)], too_wide=0)
    >>> [chapter.title for chapter in printed.chapters], printed.too_wide
    (['Welcome'], 0)
    """

    chapters: list[Chapter]
    too_wide: int


def toc_parts(toc_file: Path) -> list[tuple[str, list[str], list[int]]]:
    """Return ``(caption, files, depths)`` for each part of the Jupyter Book table of
    contents ``toc_file`` (a ``_toc.yml``).

    A depth is 0 for a chapter and 1 for a section inside one.

    >>> import tempfile, textwrap
    >>> toc = Path(tempfile.mkdtemp()) / "_toc.yml"
    >>> _ = toc.write_text(textwrap.dedent('''
    ...     root: index
    ...     parts:
    ...       - caption: Tools
    ...         chapters:
    ...           - file: tools/index
    ...             sections: [{file: tools/pandas}]
    ... '''))
    >>> toc_parts(toc)
    [('Tools', ['tools/index', 'tools/pandas'], [0, 1])]
    """
    import yaml

    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    parts = []
    for part in toc.get("parts", []):
        files, depths = [], []
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            depths.append(0)
            for section in chapter.get("sections", []):
                files.append(section["file"])
                depths.append(1)
        parts.append((part.get("caption", ""), files, depths))
    return parts


def chapter_pages(pdf: bytes) -> dict[int, int]:
    """Return, for each chapter anchor in the printed ``pdf``, the number (from 1) of the
    sheet it is on, as the PDF's named destinations say.

    >>> import io
    >>> from pypdf import PdfWriter
    >>> writer = PdfWriter()
    >>> for _ in range(3):
    ...     _ = writer.add_blank_page(width=100, height=100)
    >>> _ = writer.add_named_destination("mlcycle-chapter-0", 1)
    >>> _ = writer.add_named_destination("mlcycle-chapter-1", 2)
    >>> _ = writer.add_named_destination("some-other-anchor", 0)
    >>> printed = io.BytesIO()
    >>> _ = writer.write(printed)
    >>> chapter_pages(printed.getvalue())
    {0: 2, 1: 3}
    """
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    found = {}
    for name, destination in reader.named_destinations.items():
        if match := ANCHOR_FOUND.fullmatch(name):
            found[int(match.group(1))] = reader.get_destination_page_number(destination) + 1
    return dict(sorted(found.items()))


REDIRECT = re.compile(r"""http-equiv=["']refresh["'][^>]*url=([^"'>]+)""", re.IGNORECASE)


def follow_redirect(page: Path) -> Path:
    """Return the page a redirect stub points to (Jupyter Book's top ``index.html`` is one),
    or ``page`` itself.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "index.html").write_text('<meta http-equiv="Refresh" content="0; '
    ...                                        'url=book/index.html" />')
    >>> follow_redirect(folder / "index.html").relative_to(folder).as_posix()
    'book/index.html'
    """
    found = REDIRECT.search(page.read_text(encoding="utf-8", errors="replace")[:2000])
    return (page.parent / found.group(1).strip()) if found else page


def print_book(single_page: Path, output: Path, toc_file: Path, *, title: str,
               subtitle: str = "", chromium: str = CHROMIUM) -> PrintedBook:
    """Print the single-page build ``single_page`` to ``output``; say what was printed.

    ``toc_file`` gives the parts of the table of contents; ``title`` and ``subtitle`` go on
    the title page; ``chromium`` is the browser's executable. Raises ``FileNotFoundError``
    naming a missing input, and ``RuntimeError`` when a chapter's start cannot be found in
    the first print. Printing needs the single-page build and Chromium (``make pdf`` makes
    both); an input that is missing is named before anything starts:

    >>> print_book(Path("_build/single/index.html"), Path("book.pdf"), Path("_toc.yml"),
    ...            title="mlcycle")
    Traceback (most recent call last):
    ...
    FileNotFoundError: single-page HTML build not found: _build/single/index.html
    """
    from playwright.sync_api import sync_playwright

    for path, what in ((single_page, "single-page HTML build"), (toc_file, "table of contents"),
                       (Path(chromium), "Chromium (apt-get install chromium)")):
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
    parts = toc_parts(toc_file)
    root = single_page.resolve().parent.as_uri() + "/"
    single_page = follow_redirect(single_page)
    options = {"format": "A4", "print_background": True, "outline": True, "tagged": True,
               "display_header_footer": True, "header_template": "<span></span>",
               "footer_template": FOOTER,
               "margin": {"top": "18mm", "bottom": "20mm", "left": "18mm", "right": "18mm"}}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": PRINTABLE_WIDTH_PX, "height": 900})
            page.goto(single_page.resolve().as_uri(), wait_until="load")
            page.evaluate(ROOT_IMAGES, root)
            page.evaluate(SETTLED)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            found = page.evaluate(PREPARE, [title, subtitle, parts])
            too_wide = page.evaluate(TOO_WIDE)
            first = chapter_pages(page.pdf(**options))
            missing = [chapter["title"] or chapter["docname"]
                       for index, chapter in enumerate(found) if index not in first]
            if missing:
                raise RuntimeError(f"chapter starts not found in the first print: {missing}")
            page.evaluate(FILL_NUMBERS, [first[i] for i in range(len(found))])
            output.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(output), **options)
        finally:
            browser.close()
    return PrintedBook([Chapter(c["docname"], c["title"], first[i])
                        for i, c in enumerate(found)], too_wide)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m mlcycle_ref.pdf SINGLE_PAGE OUTPUT [--toc _toc.yml]``.

    ``argv`` are the arguments (by default the process's); returns the exit status: 0 when
    the PDF was written, 1 with a message on standard error when an input is missing.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as errors:
    ...     status = main(["/no/such/index.html", "book.pdf", "--config", "/no/_config.yml"])
    >>> status, errors.getvalue().split(":")[0]
    (1, 'error')
    """
    parser = argparse.ArgumentParser(prog="python -m mlcycle_ref.pdf", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("single_page", type=Path, help="index.html of the singlehtml build")
    parser.add_argument("output", type=Path, help="the PDF to write")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--config", type=Path, default=Path("_config.yml"),
                        help="the book's _config.yml (its title and author)")
    arguments = parser.parse_args(argv)
    import yaml

    try:
        config = yaml.safe_load(arguments.config.read_text(encoding="utf-8"))
        printed = print_book(arguments.single_page, arguments.output, arguments.toc,
                              title=config.get("title", "The book"),
                              subtitle=f"by {config.get('author', 'its authors')}")
    except (OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    chapters = printed.chapters
    print(f"Wrote {arguments.output}: {len(chapters)} chapters, the last starting on page "
          f"{chapters[-1].page}; {printed.too_wide} blocks wider than the paper.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
