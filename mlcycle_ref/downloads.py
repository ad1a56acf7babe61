"""Sphinx extension: what a student downloads from the website, made when the book is built.

Students never need the course repository (it holds the solutions). The built site offers:

* on each lab page, the released notebook, and a zip of the lab with its data files
  (the ``lab-downloads`` directive, given the lab's name);
* a zip of every released lab (the same directive without a name links it alone);
* every page of the book as a Jupyter notebook, generated from its MyST source and linked from
  a download button in the page's header.

The labs' links to chapters point at the site: at ``html_baseurl`` when the book sets it
(the address it is published at), else at the pages of the built copy itself.

Only released labs (:func:`mlcycle_ref.paths.course_files`) are copied; the files are written
under ``downloads/`` in the HTML output when the build finishes::

    ```{lab-downloads} lab01_exploration
    ```

>>> folder = downloads_folder("labs/lab01_exploration")
>>> folder
'downloads/labs/lab01_exploration'
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

from mlcycle_ref import labs

FOLDER = "downloads"
ALL_LABS = "mlcycle-labs.zip"


def downloads_folder(relative: str = "") -> str:
    """The site path of a download, ``downloads/<relative>``; ``relative`` is its path under
    the downloads folder, and "" names the folder itself.

    >>> downloads_folder("mlcycle-labs.zip"), downloads_folder()
    ('downloads/mlcycle-labs.zip', 'downloads')
    """
    return f"{FOLDER}/{relative}" if relative else FOLDER


def _link(text: str, uri: str) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph += nodes.reference("", text, refuri=uri, internal=False)
    return paragraph


class LabDownloads(SphinxDirective):
    """``lab-downloads [LAB]``: links to a released lab, its zip and the zip of all labs.

    The lab's name is its one optional argument; a name that is not a released lab fails the
    build with the directive's error. It takes no options and no content.

    >>> LabDownloads.required_arguments, LabDownloads.optional_arguments
    (0, 1)
    >>> LabDownloads.option_spec, LabDownloads.has_content
    (None, False)
    """

    optional_arguments = 1

    def run(self):
        page = self.env.app.builder.get_target_uri(self.env.docname)

        def uri(target: str) -> str:
            return relative_uri(page, downloads_folder(target))

        items = nodes.bullet_list(classes=["mlcycle-downloads"])
        if self.arguments:
            try:
                (name,) = labs.resolve(self.arguments, labs.RELEASED)
            except labs.LabError as error:
                raise self.error(f"lab-downloads: {error}") from error
            entries = [(f"The lab notebook, {name}.ipynb", f"labs/{name}/{name}.ipynb"),
                       (f"The lab with its data files, {name}.zip", f"{name}.zip")]
        else:
            entries = []
        entries.append((f"Every lab in one zip, {ALL_LABS}", ALL_LABS))
        for text, target in entries:
            item = nodes.list_item()
            item += _link(text, uri(target))
            items += item
        return [items]


def chapter_notebook(source: Path):
    """A notebook made from a page's MyST source: its code cells become code cells.

    >>> import tempfile
    >>> page = Path(tempfile.mkdtemp()) / "page.md"
    >>> _ = page.write_text("# Title\\n\\nSome text.\\n")
    >>> [cell.cell_type for cell in chapter_notebook(page).cells]
    ['markdown']
    """
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook(source.read_text(encoding="utf-8"))
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("kernelspec", {"name": labs.KERNEL, "display_name": "Python 3",
                                          "language": "python"})
    return nb


def add_notebook_button(app, pagename, templatename, context, doctree):
    """Offer the page as a notebook in the header (sphinx-book-theme's ``header_buttons``).

    Sphinx's ``html-page-context`` handler: ``app`` is the Sphinx application, ``pagename``
    the page's docname, ``templatename`` its HTML template (unused), ``context`` the
    template's variables, whose ``header_buttons`` list gets the button, and ``doctree`` the
    page's document tree (None for a page made without a source, such as the search page,
    which gets no button). Only pages written in Markdown get one.

    >>> from types import SimpleNamespace
    >>> env = SimpleNamespace(found_docs={"intro"}, doc2path=lambda name, base: f"{name}.md")
    >>> context = {"header_buttons": [], "pathto": lambda target, resource: f"../{target}"}
    >>> add_notebook_button(SimpleNamespace(env=env), "intro", "page.html", context, object())
    >>> context["header_buttons"][0]["url"]
    '../downloads/chapters/intro.ipynb'
    """
    if doctree is None or "header_buttons" not in context or pagename not in _markdown_pages(app):
        return
    context["header_buttons"].append({
        "type": "link", "url": context["pathto"](downloads_folder(f"chapters/{pagename}.ipynb"),
                                                 1),
        "text": ".ipynb", "icon": "fas fa-download", "label": "download-notebook-button",
        "tooltip": "Download this page as a Jupyter notebook"})


def _markdown_pages(app) -> set[str]:
    env = app.env
    return {docname for docname in env.found_docs
            if Path(env.doc2path(docname, base=True)).suffix == ".md"}


def write_downloads(app, exception) -> None:
    """After a successful HTML build, write the labs, their zips and the page notebooks.

    Sphinx's ``build-finished`` handler: ``app`` is the Sphinx application, ``exception``
    what stopped the build (None when it succeeded). After a failed build, or one that is not
    HTML, it writes nothing (``write_chapter_notebooks`` shows the notebooks' part):

    >>> write_downloads(None, RuntimeError("the build failed"))
    """
    if exception is not None or app.builder.format != "html":
        return
    from mlcycle_ref.labs.bundle import with_site_links, write_zip

    out = Path(app.outdir) / FOLDER
    # The labs are copied afresh (a few files, milliseconds); the page notebooks are kept
    # between builds, as converting every page took about a second of each warm build.
    shutil.rmtree(out / "labs", ignore_errors=True)
    for archive in out.glob("*.zip"):
        archive.unlink()
    released = labs.RELEASED
    # With the site's address (html_baseurl) the labs link its pages; without one, the pages
    # of this copy of the site, relative to downloads/labs/<lab>/.
    site = (app.config.html_baseurl or "").rstrip("/") or "../../.."
    for name in labs.available(released):
        shutil.copytree(released / name, out / "labs" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        notebook = out / "labs" / name / f"{name}.ipynb"
        nbformat.write(with_site_links(nbformat.read(notebook, as_version=4), site), notebook)
    for name in labs.available(released):
        write_zip(out / f"{name}.zip", [name], released=out / "labs")
    write_zip(out / ALL_LABS, released=out / "labs")
    write_chapter_notebooks(out / "chapters", {
        docname: Path(app.env.doc2path(docname)) for docname in _markdown_pages(app)})


def write_chapter_notebooks(folder: Path, sources: dict[str, Path]) -> list[str]:
    """Write ``folder/<docname>.ipynb`` for each page's source, and remove notebooks of pages
    that are gone. A notebook newer than its page and than this module is kept. Returns the
    docnames written. ``sources`` maps each page's docname to its MyST source file.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "page.md").write_text("# Title\\n")
    >>> write_chapter_notebooks(root / "out", {"book/page": root / "page.md"})
    ['book/page']
    >>> write_chapter_notebooks(root / "out", {"book/page": root / "page.md"})
    []
    >>> _ = (root / "out" / "book" / "old.ipynb").write_text("{}")
    >>> _ = write_chapter_notebooks(root / "out", {"book/page": root / "page.md"})
    >>> sorted(path.name for path in (root / "out" / "book").iterdir())
    ['page.ipynb']
    """
    written = []
    converter = Path(__file__).stat().st_mtime
    for docname, source in sorted(sources.items()):
        target = folder / f"{docname}.ipynb"
        if target.is_file() and target.stat().st_mtime > max(source.stat().st_mtime, converter):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(chapter_notebook(source), target)
        written.append(docname)
    wanted = {folder / f"{docname}.ipynb" for docname in sources}
    for stale in [path for path in folder.rglob("*.ipynb") if path not in wanted]:
        stale.unlink()
    return written


def setup(app):
    """Register the ``lab-downloads`` directive and the two handlers with ``app``, the Sphinx
    application (Sphinx calls this for the ``extensions`` entry ``mlcycle_ref.downloads``).

    >>> from types import SimpleNamespace
    >>> calls = []
    >>> app = SimpleNamespace(add_directive=lambda name, directive: calls.append(name),
    ...                       connect=lambda event, handler, priority=500: calls.append(event))
    >>> setup(app)["parallel_read_safe"], calls
    (True, ['lab-downloads', 'html-page-context', 'build-finished'])
    """
    app.add_directive("lab-downloads", LabDownloads)
    # After sphinx-book-theme has made its header buttons (priority 501).
    app.connect("html-page-context", add_notebook_button, priority=600)
    app.connect("build-finished", write_downloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
