"""Sphinx extension for the course's website: self-contained, and fed by the question banks.

Jupyter Book loads MathJax from a CDN by default, which breaks the book offline and
leaks every reader's visit to a third party. This extension copies MathJax 3 from
the ``django-static-mathjax`` distribution (plain files, installed from PyPI with the
package) into the built site and points Sphinx at that copy. It also drops the
scripts of sphinx-thebe, which Jupyter Book always loads although the book has no
live kernels: they name a CDN address and declare a constant twice per page. A small
stylesheet keeps pages within a phone's width, and the theme gets the colour-mode default
it expects, so a reader's first page logs no error. The sidebar buttons a reader sees are
made to work (see ``SIDEBAR_TOGGLES``).

Executed pages depend on the package as much as on their own cells, but jupyter-cache keys
its stored outputs on the cells alone: after a change to ``mlcycle_ref`` a rebuild would
show outputs of the old code. The cache therefore lives in a folder named after a
fingerprint of the package's files, so a changed package executes the pages again.

The ``glossary-bank`` directive renders the glossary bank (``quizzes/glossary.yml``) as a
Sphinx glossary, so the book's definitions and the glossary drills cannot drift apart.
Aliases become extra terms, so ``{term}`HPO``` and the full name land on the same entry.

Enable it in ``_config.yml``::

    sphinx:
      extra_extensions: [mlcycle_ref.book]
"""

import hashlib
import shutil
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

#: Where the copy lives, relative to the site's ``_static`` folder.
MATHJAX_FOLDER = "mathjax"
MATHJAX_ENTRY = "es5/tex-mml-chtml.js"
#: Only what the CommonHTML output needs, the combined component and its web fonts.
MATHJAX_FILES = (MATHJAX_ENTRY, "es5/output/chtml/fonts/woff-v2")


def mathjax_source() -> Path:
    """Return the folder of the installed MathJax 3 distribution.

    >>> (mathjax_source() / MATHJAX_ENTRY).is_file()
    True
    """
    import mathjax  # the django-static-mathjax distribution

    return Path(mathjax.__file__).parent / "static" / "mathjax"


def copy_mathjax(destination: Path) -> Path:
    """Copy the MathJax files the site needs into ``destination``; return the entry script.

    >>> import tempfile
    >>> copy_mathjax(Path(tempfile.mkdtemp())).name
    'tex-mml-chtml.js'
    """
    source = mathjax_source()
    for relative in MATHJAX_FILES:
        origin, target = source / relative, destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, target)
    return destination / MATHJAX_ENTRY


#: Style the theme lacks. Sphinx never breaks inside an inline-code word, and a field list's
#: grid cell grows to its widest code block: on a phone either would widen the whole page.
#: A glossary entry's aliases are link targets too, shown quieter than the term itself.
SITE_CSS_FILE = "mlcycle-site.css"
SITE_CSS = """\
code.literal span.pre, .sig span.pre { white-space: normal; overflow-wrap: break-word; }
.sig { overflow-wrap: break-word; }
dl.field-list > dd { min-width: 0; }
dl.glossary dt + dt { font-weight: normal; font-size: 0.9em; color: var(--pst-color-text-muted); }
dl.glossary dt + dt::before { content: "also: "; font-style: italic; }
"""
#: pydata-sphinx-theme 0.17 and sphinx-book-theme wire only the first ``.primary-toggle`` and
#: ``.secondary-toggle`` of a page (pydata-sphinx-theme issue 2451): hidden navbar buttons, so
#: the visible ones did nothing and a phone could not open the table of contents. The visible
#: buttons pass their clicks on to the wired ones.
SIDEBAR_TOGGLES = """\
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [wired, ...others] = document.querySelectorAll(selector);
    others.forEach((button) => button.addEventListener("click", () => wired.click()));
  }
});
"""


def package_fingerprint(root: Path = Path(__file__).parent) -> str:
    """Return a short digest of every file of the package under ``root``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "data.py").write_text("ROWS = 1")
    >>> before = package_fingerprint(folder)
    >>> _ = (folder / "data.py").write_text("ROWS = 2")
    >>> package_fingerprint(folder) != before
    True
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _cache_per_package_version(app, config):
    if not config.nb_execution_cache_path:
        cache = Path(app.outdir).parent / ".jupyter_cache" / f"mlcycle_ref-{package_fingerprint()}"
        config.nb_execution_cache_path = str(cache)


def _use_local_mathjax(app, config):
    # A relative mathjax_path is resolved against the site's _static folder.
    config.mathjax_path = f"{MATHJAX_FOLDER}/{MATHJAX_ENTRY}"


def _install_mathjax(app):
    if app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static" / MATHJAX_FOLDER)


def _install_site_css(app):
    if app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / SITE_CSS_FILE).write_text(SITE_CSS, encoding="utf-8")


def glossary_markup(bank: dict) -> list[str]:
    """Return the MyST lines of a glossary directive for a glossary bank.

    >>> bank = {"terms": [{"id": "hpo", "term": "Hyperparameter Optimization",
    ...                    "aliases": ["HPO", "hpo"], "definition": "Automatic tuning.",
    ...                    "related": []}]}
    >>> print("\\n".join(glossary_markup(bank)))
    ```{glossary}
    :sorted:
    Hyperparameter Optimization
    HPO
      Automatic tuning.
    ```
    """
    names = {entry["id"]: entry["term"] for entry in bank["terms"]}
    lines = ["```{glossary}", ":sorted:"]
    for number, entry in enumerate(bank["terms"]):
        if number:
            lines.append("")
        seen = set()
        for name in [entry["term"], *entry.get("aliases", [])]:
            if name.lower() not in seen:
                seen.add(name.lower())
                lines.append(name)
        lines.append(f"  {entry['definition']}")
        related = [names[other] for other in entry.get("related", []) if other in names]
        if related:
            links = ", ".join(f"{{term}}`{name}`" for name in related)
            lines += ["", f"  *Related:* {links}"]
    return [*lines, "```"]


class GlossaryBank(SphinxDirective):
    """``glossary-bank``: render a glossary bank file (path relative to the book's root)."""

    required_arguments = 1

    def run(self):
        path = Path(self.env.srcdir) / self.arguments[0]
        self.env.note_dependency(str(path))
        try:
            bank = yaml.safe_load(path.read_text(encoding="utf-8"))
            markup = glossary_markup(bank)
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise self.error(f"cannot render glossary bank {path}: {error!r}") from error
        container = nodes.container()
        self.state.nested_parse(StringList(markup, source=str(path)), self.content_offset,
                                container)
        return container.children


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        context["script_files"][:] = [s for s in context["script_files"] if not _is_thebe(s)]


def _default_colour_mode(app, pagename, templatename, context, doctree):
    # pydata-sphinx-theme takes the mode from localStorage, else from this value; left
    # undefined, a first visit logs "Got invalid theme mode" as a console error.
    context.setdefault("default_mode", "auto")


def setup(app):
    """Register the extension with Sphinx."""
    app.connect("config-inited", _use_local_mathjax)
    app.connect("config-inited", _cache_per_package_version)
    app.connect("builder-inited", _install_mathjax)
    app.connect("builder-inited", _install_site_css)
    app.add_css_file(SITE_CSS_FILE)
    app.add_js_file(None, body=SIDEBAR_TOGGLES)
    app.connect("html-page-context", _drop_thebe)
    app.connect("html-page-context", _default_colour_mode)
    app.add_directive("glossary-bank", GlossaryBank)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
