"""Sphinx extension that keeps the course's website self-contained.

Jupyter Book loads MathJax from a CDN by default, which breaks the book offline and
leaks every reader's visit to a third party. This extension copies MathJax 3 from
the ``django-static-mathjax`` distribution (plain files, installed from PyPI with the
package) into the built site and points Sphinx at that copy. It also drops the
scripts of sphinx-thebe, which Jupyter Book always loads although the book has no
live kernels: they name a CDN address and declare a constant twice per page.

Enable it in ``_config.yml``::

    sphinx:
      extra_extensions: [mlcycle_ref.book]
"""

import shutil
from pathlib import Path

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


def _use_local_mathjax(app, config):
    # A relative mathjax_path is resolved against the site's _static folder.
    config.mathjax_path = f"{MATHJAX_FOLDER}/{MATHJAX_ENTRY}"


def _install_mathjax(app):
    if app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static" / MATHJAX_FOLDER)


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]


def setup(app):
    """Register the extension with Sphinx."""
    app.connect("config-inited", _use_local_mathjax)
    app.connect("builder-inited", _install_mathjax)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
