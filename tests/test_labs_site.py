"""The website's downloads: each lab, a zip of all labs, every page as a notebook; no secrets.

A small Sphinx project with MyST-NB and ``mlcycle_ref.downloads`` is built from the book's
own lab pages and one executable chapter (not executed here: the downloads do not depend on
outputs). Everything the build wrote - pages, notebooks, zips - is then scanned for solution
code, hidden tests and model answers.
"""

import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from lab_secrets import leaks, secret_lines

from mlcycle_ref import labs, paths

CONF = """
extensions = ["myst_nb", "mlcycle_ref.downloads", "sphinx.ext.autodoc"]
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
html_theme = "sphinx_book_theme"
html_theme_options = {"use_download_button": False}
suppress_warnings = ["myst.xref_missing", "ref.term", "ref.doc", "toc.not_included"]
exclude_patterns = ["_build"]
html_baseurl = "https://ml.example.org/course/"
"""
SITE = "https://ml.example.org/course"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from sphinx.application import Sphinx

    source = tmp_path_factory.mktemp("site-source")
    (source / "conf.py").write_text(CONF)
    # The same layout as the real site, whose root is the repository: pages under book/.
    pages = ["book/labs/index", *[f"book/labs/lab0{n}" for n in range(1, 8)],
             "book/lifecycle/training"]
    for page in pages:
        (source / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.REPOSITORY / f"{page}.md", source / f"{page}.md")
    # The API reference of the modules that handle solutions and hidden tests: their
    # documentation is published too.
    modules = ["mlcycle_ref.labs", *[f"mlcycle_ref.labs.{name}" for name in (
        "bundle", "cli", "jupyter", "release", "secret", "selfcheck")],
        "mlcycle_ref.downloads", "mlcycle_ref.course.feedback", "mlcycle_ref.course.restore"]
    (source / "api.md").write_text("# API\n\n```{eval-rst}\n" + "".join(
        f".. automodule:: {module}\n   :members:\n\n" for module in modules) + "```\n")
    pages.append("api")
    (source / "index.md").write_text("# Course\n\n```{toctree}\n" + "\n".join(pages) + "\n```\n")
    out = tmp_path_factory.mktemp("site")
    app = Sphinx(str(source), str(source), str(out), str(out / ".doctrees"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    return out


def test_each_lab_page_links_its_notebook_its_zip_and_all_labs(site):
    for lab in labs.available(labs.RELEASED):
        page = (site / "book" / "labs" / f"{lab[:5]}.html").read_text()
        for target in (f"../../downloads/labs/{lab}/{lab}.ipynb", f"../../downloads/{lab}.zip",
                       "../../downloads/mlcycle-labs.zip"):
            assert f'href="{target}"' in page, f"{lab}: no link to {target}"
            assert (site / "book" / "labs" / target).resolve().is_file(), target
        released = nbformat.read(labs.RELEASED / lab / f"{lab}.ipynb", as_version=4)
        offered = nbformat.read(site / "downloads" / "labs" / lab / f"{lab}.ipynb", as_version=4)
        assert [cell.metadata for cell in offered.cells] == [cell.metadata for cell in
                                                            released.cells]
        text = "".join(cell.source for cell in offered.cells)
        assert "../../book/" not in text and f"]({SITE}/book/" in text
    chapter = f"]({SITE}/book/lifecycle/training.html)"
    lab03 = (site / "downloads" / "labs" / "lab03_training" / "lab03_training.ipynb").read_text()
    assert chapter in lab03 and (site / "book" / "lifecycle" / "training.html").is_file()
    names = zipfile.ZipFile(site / "downloads" / "mlcycle-labs.zip").namelist()
    assert sorted(names) == sorted(f"labs/{lab}/{lab}.ipynb"
                                   for lab in labs.available(labs.RELEASED))


def test_every_page_is_offered_as_a_notebook_with_its_code_cells(site):
    chapter = nbformat.read(site / "downloads" / "chapters" / "book" / "lifecycle" /
                            "training.ipynb", as_version=4)
    nbformat.validate(chapter)
    code = [cell for cell in chapter.cells if cell.cell_type == "code"]
    assert code and "mlcycle_ref" in "".join(cell.source for cell in code)
    assert chapter.metadata["kernelspec"]["name"] == "python3"
    page = (site / "book" / "lifecycle" / "training.html").read_text()
    assert "../../downloads/chapters/book/lifecycle/training.ipynb" in page
    offered = {path.relative_to(site / "downloads" / "chapters").with_suffix("").as_posix()
               for path in (site / "downloads" / "chapters").rglob("*.ipynb")}
    assert {"index", "book/labs/lab01", "book/lifecycle/training"} <= offered


def test_nothing_the_site_offers_holds_a_secret(site):
    api = (site / "api.html").read_text()
    assert "hidden_rng" in api and "reference_from" in api, "the API pages are scanned too"
    secrets, found = secret_lines(), {}
    assert len(secrets) > 100, "the scan knows the solutions it looks for"
    for path in sorted(site.rglob("*")):
        if not path.is_file() or ".doctrees" in path.parts:
            continue
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                texts = {f"{path.name}:{name}": archive.read(name).decode("utf-8", "replace")
                         for name in archive.namelist()}
        else:
            texts = {path.name: path.read_bytes().decode("utf-8", "replace")}
        for name, text in texts.items():
            if hits := leaks(text, secrets):
                found[name] = hits[:3]
    assert found == {}


def test_the_scan_finds_a_leak_when_there_is_one():
    secrets = secret_lines()
    solution = (labs.SOLUTIONS / "lab01_exploration" / "lab01_exploration.ipynb").read_text()
    assert leaks(solution, secrets)
