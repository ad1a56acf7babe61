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
fingerprint of the package's files, so a changed package executes the pages again. The pages
missing from the cache are executed before Sphinx reads any page, one per core, longest first
(see ``_execute_pages_in_parallel``). Sphinx then reads and writes the pages on every core
(see ``_use_every_core``).

The site search stems the pages exactly as its script stems a query, and joins the stems of
one word family, so "leak" and "leakage" find the same pages (see ``join_word_families``).

The ``glossary-bank`` directive renders the glossary bank (``quizzes/glossary.yml``) as a
Sphinx glossary, so the book's definitions and the glossary drills cannot drift apart.
Aliases become extra terms, so ``{term}`HPO``` and the full name land on the same entry.

Enable it in ``_config.yml``::

    sphinx:
      extra_extensions: [mlcycle_ref.book]
"""

import functools
import gc
import hashlib
import importlib
import json
import os
import pkgutil
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.search.en import SearchEnglish
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

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
#: The light theme's warning orange (#f66a0a) is 3.0:1 on white; a darker one passes 4.5:1.
#: Output tables keep one line per row (a wide one scrolls in its own box); on a phone a
#: figure keeps its drawn size and scrolls sideways, so its text is never shrunk below 9 px.
SITE_CSS_FILE = "mlcycle-site.css"
SITE_CSS = """\
code.literal span.pre, .sig span.pre { white-space: normal; overflow-wrap: anywhere; }
.sig, h1 code, h2 code, h3 code { overflow-wrap: anywhere; }
dl.field-list > dd { min-width: 0; }
dl.glossary dt + dt { font-weight: normal; font-size: 0.9em; color: var(--pst-color-text-muted); }
dl.glossary dt + dt::before { content: "also: "; font-style: italic; }
div.cell_output table th, div.cell_output table td { white-space: nowrap; }
html[data-theme="light"] { --pst-color-warning: #a34f00; }
@media (max-width: 40rem) {
  div.cell_output { overflow-x: auto; }
  div.cell_output img { max-width: none !important; }
}
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


#: Modules that build the site around the pages; no page's code imports them, so a change to
#: them needs no page executed again.
NOT_RUN_BY_PAGES = ("book.py", "pdf.py")

# The theme's markup fails axe-core in four ways; each is repaired once the page has loaded.
# - the sidebar's expand arrows are <summary> elements with no name;
# - buttons whose aria-label leaves out their visible text ("Search" on a button that shows
#   "Search Ctrl+K") and icons whose title adds text the label does not have;
# - the sidebar's logo and search button sit outside every landmark;
# - pandas tables leave their corner header cells empty.
ACCESSIBILITY_FIXES = """\
(() => {
  const repair = () => {
    document.querySelectorAll("summary").forEach((summary) => {
      if (summary.textContent.trim() || summary.getAttribute("aria-label")) return;
      const item = summary.closest("li");
      const link = item && item.querySelector(":scope > a");
      summary.setAttribute("aria-label",
        "Sections of " + (link ? link.textContent.trim() : "this page"));
    });
    // A labelled button's icons are decoration: their titles would add words to its name.
    document.querySelectorAll("button[aria-label] i, button[aria-label] svg").forEach((icon) => {
      icon.setAttribute("aria-hidden", "true");
      icon.removeAttribute("title");
    });
    document.querySelectorAll("button[aria-label] svg title").forEach((title) => title.remove());
    document.querySelectorAll("button[aria-label], a[aria-label], summary[aria-label]")
      .forEach((control) => {
        // innerText is what is shown: not the <title> inside an icon's SVG.
        const text = control.innerText.replace(/\\s+/g, " ").trim();
        const label = control.getAttribute("aria-label");
        if (text && !label.toLowerCase().includes(text.toLowerCase())) {
          control.removeAttribute("aria-label");
        }
      });
    document.querySelectorAll(".bd-sidebar-primary").forEach((sidebar) => {
      if (!sidebar.getAttribute("role") && sidebar.tagName !== "DIALOG") {
        sidebar.setAttribute("role", "complementary");
        sidebar.setAttribute("aria-label", "Book contents");
      }
    });
    document.querySelectorAll("table th").forEach((cell) => {
      if (!cell.textContent.trim() && !cell.querySelector(".visually-hidden")) {
        const name = document.createElement("span");
        name.className = "visually-hidden";
        name.textContent = cell.closest("thead") ? "row label" : "row";
        cell.append(name);
      }
    });
  };
  // Icons become SVGs and widgets draw themselves after load: repair again after each change.
  let pending = false;
  const later = () => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => { pending = false; repair(); });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    repair();
    new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  });
  window.addEventListener("load", repair);
})();
"""

#: Search over ``file://``: Chromium refuses the fetches that build result excerpts (one
#: console error each), so excerpts are switched off there and a note gives the command that
#: serves the site. Over http, excerpts leave out buttons' labels.
SEARCH_FIXES = """\
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return;
  if (window.location.protocol === "file:") {
    DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
    const results = document.getElementById("search-results");
    if (results && !document.getElementById("mlcycle-search-note")) {
      const note = document.createElement("p");
      note.id = "mlcycle-search-note";
      note.className = "admonition note";
      note.innerHTML = "Opened from a file, search lists matching pages without excerpts. " +
        "For excerpts, serve the site: <code>make serve</code> in the repository (or " +
        "<code>python -m http.server --directory _build/html</code>), then open " +
        "<code>http://127.0.0.1:8000/</code>.";
      results.before(note);
    }
  }
  const toText = Search.htmlToText;
  Search.htmlToText = (html, anchor) => {
    const page = new DOMParser().parseFromString(html, "text/html");
    page.querySelectorAll("button, .btn, .mlcycle-no-search").forEach((node) => node.remove());
    return toText(page.documentElement.outerHTML, anchor);
  };
});
"""

#: The theme's ".pdf" button prints the page on screen; it becomes a link to the whole book's
#: PDF (``make pdf`` writes it beside the site's front page).
BOOK_PDF = "mlcycle-book.pdf"
PDF_LINK = """\
document.addEventListener("DOMContentLoaded", () => {
  const root = document.documentElement.dataset.content_root || "";
  document.querySelectorAll(".btn-download-pdf-button").forEach((button) => {
    const link = document.createElement("a");
    link.className = button.className;
    link.href = root + "BOOK_PDF";
    link.title = "The whole book as one PDF";
    link.innerHTML = button.innerHTML;
    link.querySelector(".btn__text-container").textContent = "book .pdf";
    button.replaceWith(link);
  });
});
""".replace("BOOK_PDF", BOOK_PDF)

#: English endings the Porter stemmer keeps, so that "leakage" stems to "leakag" beside
#: "leak", "randomly" to "randomli" beside "random", "normalise" to "normalis" beside "normal"
#: (it strips "-ize" but not "-ise") and "largest" to "largest" beside "larg". Measured on the
#: book's own index, every pair of stems these four endings join is one word family, apart
#: from "pack" and "package"; "-er", "-or" and "-y" were left out because they also join
#: "fold" to "folder", "fact" to "factor" and "part" to "party".
FAMILY_ENDINGS = ("ag", "li", "is", "est")
#: A shorter stem is too ambiguous to be a family's root: "only" stems to "onli", "apply" to
#: "appli", and neither belongs with "on" or "app".
FAMILY_ROOT_LENGTH = 4


def word_families(stems) -> list[set[str]]:
    """Group stems that are one stem plus endings of ``FAMILY_ENDINGS``; singletons are left out.

    A chain joins too: "cost", "costli", "costliest" are one family.

    >>> sorted(map(sorted, word_families(["leak", "leakag", "model", "mode", "cost",
    ...                                   "costli", "costliest"])))
    [['cost', 'costli', 'costliest'], ['leak', 'leakag']]
    """
    known = {stem for stem in stems if stem.isalpha()}
    parent = {stem: stem for stem in known}

    def root(stem):
        while parent[stem] != stem:
            stem = parent[stem]
        return stem

    for stem in known:
        for ending in FAMILY_ENDINGS:
            shorter = stem[: -len(ending)]
            if stem.endswith(ending) and len(shorter) >= FAMILY_ROOT_LENGTH and shorter in known:
                parent[root(stem)] = root(shorter)
    families: dict[str, set[str]] = {}
    for stem in known:
        families.setdefault(root(stem), set()).add(stem)
    return [family for family in families.values() if len(family) > 1]


def join_word_families(index: dict) -> int:
    """Let every stem of a word family find the pages of all its members.

    Sphinx stems the query with the same Porter stemmer as the pages, so after this a search
    for "leak" and one for "leakage" list the same pages. Both the text (``terms``) and the
    titles (``titleterms``) are joined. Returns how many stems gained pages.

    >>> index = {"terms": {"leak": 0, "leakag": [1, 2], "model": 3}, "titleterms": {}}
    >>> join_word_families(index), index["terms"]
    (2, {'leak': [0, 1, 2], 'leakag': [0, 1, 2], 'model': 3})
    """
    def pages_of(found) -> set[int]:
        # The index stores a stem found on one page as that page's number, else a list.
        return set(found) if isinstance(found, list) else {found}

    grown = 0
    for key in ("terms", "titleterms"):
        table = index.get(key, {})
        for family in word_families(table):
            pages = set().union(*(pages_of(table[stem]) for stem in family))
            for stem in family:
                grown += len(pages_of(table[stem])) < len(pages)
                table[stem] = sorted(pages)
    return grown


#: Sphinx's JavaScript stemmer, which stems the reader's query, follows Porter's later
#: departures from the published algorithm (``-bli`` becomes ``-ble`` and ``-logi`` becomes
#: ``-log`` in step 2, and words under three letters are kept whole); the Python stemmer
#: that stems the pages does not. Measured on the book's words, "visibly", "reproducibly"
#: and "analogy" stemmed differently on the two sides.
JS_STEP2_DEPARTURES = (("bli", "ble"), ("logi", "log"))
#: Porter's "m > 0" (a vowel then a consonant) in the script's own regular expression: step 2
#: changes an ending only when what comes before it passes.
_MEASURE_ABOVE_ZERO = re.compile("^([^aeiou][^aeiouy]*)?[aeiouy][aeiou]*[^aeiou][^aeiouy]*")


class SearchAsQueried(SearchEnglish):
    """English search that stems the pages exactly as the page script stems a query.

    >>> stem = SearchAsQueried({}).stem
    >>> stem("visibly"), stem("analogy"), stem("leakage"), stem("as")
    ('visibl', 'analog', 'leakag', 'as')
    """

    def stem(self, word: str) -> str:
        if len(word) < 3:
            return word.lower()
        stem = super().stem(word)
        for ending, replacement in JS_STEP2_DEPARTURES:
            if stem.endswith(ending) and _MEASURE_ABOVE_ZERO.match(stem[: -len(ending)]):
                # Step 2 changed the ending; steps 3 to 5 still apply to the new one.
                return super().stem(stem[: -len(ending)] + replacement)
        return stem


def group_glossary_aliases(index: dict, bank: dict) -> int:
    """Point the search index's entries for a term's aliases at the term itself.

    Search then lists a term once, however many of its aliases match. Returns how many
    entries moved.

    >>> index = {"indexentries": {"hpo": [[3, "term-HPO", True]],
    ...     "hyperparameter optimization": [[3, "term-Hyperparameter-Optimization", True]]}}
    >>> bank = {"terms": [{"term": "Hyperparameter Optimization", "aliases": ["HPO"]}]}
    >>> group_glossary_aliases(index, bank), index["indexentries"]["hpo"]
    (1, [[3, 'term-Hyperparameter-Optimization', True]])
    """
    entries = index.get("indexentries", {})
    moved = 0
    for term in bank.get("terms", []):
        main = entries.get(term["term"].lower())
        if not main:
            continue
        for alias in term.get("aliases", []):
            key = alias.lower()
            if key in entries and key != term["term"].lower():
                entries[key] = [list(entry) for entry in main]
                moved += 1
    return moved


def _finish_search_index(app, exception):
    index_file = Path(app.outdir) / "searchindex.js"
    if exception or app.builder.format != "html" or not index_file.is_file():
        return
    text = index_file.read_text(encoding="utf-8")
    prefix, body = text.split("(", 1)
    index = json.loads(body[: body.rindex(")")])
    bank_file = Path(app.srcdir) / "quizzes" / "glossary.yml"
    if bank_file.is_file():
        group_glossary_aliases(index, yaml.safe_load(bank_file.read_text(encoding="utf-8")))
    join_word_families(index)
    index_file.write_text(f"{prefix}({json.dumps(index, separators=(',', ':'))})",
                          encoding="utf-8")


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
        if "__pycache__" not in path.parts and path.name not in NOT_RUN_BY_PAGES:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _cache_per_package_version(app, config):
    if not config.nb_execution_cache_path:
        cache = Path(app.outdir).parent / ".jupyter_cache" / f"mlcycle_ref-{package_fingerprint()}"
        config.nb_execution_cache_path = str(cache)


@dataclass
class _PageRun:
    """A page whose code must run before it is read: its notebook and how to execute it."""

    docname: str
    path: Path
    notebook: object  # nbformat.NotebookNode
    read_fmt: dict | None
    config: object  # myst_nb's NbParserConfig, with the page's own overrides


def _page_run(env, docname: str, cache) -> _PageRun | None:
    """The page's run if myst-nb would execute it now (cache mode, outputs not in the cache)."""
    from myst_nb.core.nb_to_tokens import nb_node_to_dict
    from myst_nb.core.read import create_nb_reader

    path = Path(env.doc2path(docname))
    text = path.read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
    if reader is None:
        return None
    notebook = reader.read(text)
    config = env.mystnb_config
    # The page's front matter may change its execution settings, as it does for myst-nb.
    overrides = nb_node_to_dict(notebook.metadata.get(config.metadata_key, {}))
    overrides.pop("output_folder", None)
    config = config.copy(**overrides)
    if config.execution_mode != "cache" or any(
            PurePosixPath(path.as_posix()).match(pattern)
            for pattern in config.execution_excludepatterns):
        return None
    try:
        cache.match_cache_notebook(notebook)
        return None
    except KeyError:
        return _PageRun(docname, path, notebook, reader.read_fmt, config)


def _expected_seconds(cache_folder: Path) -> dict[str, float]:
    """How long each page took the last time any cache beside ``cache_folder`` executed it."""
    from jupyter_cache import get_cache

    seconds: dict[str, float] = {}
    databases = sorted(cache_folder.parent.glob("*/global.db"), key=lambda db: db.stat().st_mtime)
    for database in databases:  # the newest last, so its times win
        for record in get_cache(database.parent).list_cache_records():
            seconds[record.uri] = record.data.get("execution_seconds", 0.0)
    return seconds


def _execute(run: _PageRun):
    from jupyter_cache.executors.utils import single_nb_execution

    with (tempfile.TemporaryDirectory() if run.config.execution_in_temp
          else nullcontext(str(run.path.parent))) as cwd:
        return single_nb_execution(run.notebook, cwd=cwd,
                                   allow_errors=run.config.execution_allow_errors,
                                   timeout=run.config.execution_timeout, meta_override=True)


def _execute_pages_in_parallel(app, env, docnames):
    # myst-nb executes the pages one after another as Sphinx reads them, which leaves a core
    # idle while most of a cold build is spent running code. Here the pages whose outputs are
    # not in the cache run first, one per core, each in its own kernel, and their outputs go
    # into the cache; myst-nb then reads every page from the cache. A page that fails is not
    # cached, so myst-nb runs it again and reports the error as usual.
    if env.mystnb_config.execution_mode != "cache" or not docnames:
        return  # a build with nothing to read need not import jupyter-cache (about 1 s)
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(env.mystnb_config.execution_cache_path)
    runs = [run for run in (_page_run(env, name, cache) for name in sorted(docnames)) if run]
    if len(runs) < 2:
        return
    # Longest first, so that no long page starts last while the other core has nothing left.
    expected = _expected_seconds(Path(env.mystnb_config.execution_cache_path))
    runs.sort(key=lambda run: -expected.get(str(run.path), float("inf")))
    workers = min(len(runs), os.cpu_count() or 1)
    logger.info(f"executing {len(runs)} pages, {workers} at a time")
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_execute, run): run for run in runs}
        for future in as_completed(futures):
            run, result = futures[future], future.result()
            if result.err is not None:
                logger.info(f"{run.docname}: failed, myst-nb runs it again to report the error")
                continue
            stage = cache.add_nb_to_project(str(run.path), read_data=run.read_fmt)
            cache.cache_notebook_bundle(
                CacheBundleIn(run.notebook, stage.uri, data={"execution_seconds": result.time}),
                check_validity=False, overwrite=True)
            logger.info(f"{run.docname}: executed in {result.time:.1f} s")


def _use_every_core(app, config):
    # Jupyter Book 1's command line has no -j, so Sphinx read and wrote the 64 pages in one
    # process while the other core idled. Unless a caller chose a number of processes, use
    # one more than the cores: Sphinx writes with all but one of them (the main process
    # prepares each page for the writers). Sphinx reads in parallel only if every extension
    # says it may; sphinx-multitoc-numbering, which sphinx-external-toc always loads, does
    # not say, but it only replaces how section numbers are assigned, which Sphinx does in
    # the main process once every page is read (and the book numbers no sections).
    if app.parallel == 1:
        app.parallel = len(os.sched_getaffinity(0)) + 1
    if "sphinx_multitoc_numbering" in app.extensions:
        app.extensions["sphinx_multitoc_numbering"].parallel_read_safe = True


def _freeze_what_lives(app, *_):
    # Python's cycle collector walked every object of the build again and again: the
    # libraries imported, then every page read, all alive until the build ends. A fifth of a
    # warm build went to it (warm --all 19.4 -> 15.4 s). At the end of each phase the objects
    # alive are moved out of its reach; garbage made later is still collected.
    gc.freeze()


def _import_documented_modules(app, env, docnames):
    # The processes that read pages in parallel are forked from this one: importing the
    # documented modules here once (scikit-learn, XGBoost, nbgrader...) spares each reader
    # of API pages from importing them again, 2 s of CPU per warm build.
    if app.parallel > 1 and any(
            "{api-module}" in Path(env.doc2path(name)).read_text(encoding="utf-8")
            for name in docnames):
        api_modules(__package__)


def _analyze_only_the_package(app):
    # autodoc parses the source of every class in the method resolution order of each class it
    # documents, looking for attribute comments of inherited members. The reference documents
    # no inherited members, yet every build parsed docutils.nodes, sklearn.pipeline, traitlets
    # and about 70 other outside modules: 119 modules, 30 s of a warm build on a busy machine,
    # 9 s after this. Outside modules now read as empty sources. The one change to the pages:
    # a directive's ``required_arguments``, ``optional_arguments`` and ``option_spec`` no
    # longer appear with docutils' own descriptions of them (docutils' interface, which
    # docutils documents).
    from sphinx.pycode import ModuleAnalyzer

    for_module = ModuleAnalyzer.for_module
    if for_module.__name__ == "for_package_module":  # done by an earlier build in this process
        return

    @functools.cache
    def for_package_module(modname: str):
        if modname == __package__ or modname.startswith(f"{__package__}."):
            return for_module(modname)
        # The module's own file name stays the analyzer's source: autodoc records it as a
        # dependency of the page, and a name that is no file made the page outdated in every
        # later build. A module without source raises PycodeError here, as before (and
        # again on the next call: exceptions are not cached).
        filename, _ = ModuleAnalyzer.get_module_source(modname)
        return ModuleAnalyzer.for_string("", modname, filename or "<string>")

    ModuleAnalyzer.for_module = staticmethod(for_package_module)


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
    """``glossary-bank``: render a glossary bank file (path relative to the book's root).

    Its one argument is the bank's YAML file; the page is rebuilt when that file changes, and
    the directive parses what ``glossary_markup`` makes of the bank. A file that cannot be
    read or lacks a field fails the build naming the file.

    >>> GlossaryBank.required_arguments, GlossaryBank.optional_arguments
    (1, 0)
    """

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


def api_modules(name: str) -> list[str]:
    """Return a module's name and, for a package, the names of all its public submodules.

    The API pages list modules through this, so a package that gains or splits a module is
    documented without editing the page.

    >>> names = api_modules("mlcycle_ref.quiz")
    >>> names[0], "mlcycle_ref.quiz.bank" in names
    ('mlcycle_ref.quiz', True)
    >>> api_modules("mlcycle_ref.data")
    ['mlcycle_ref.data']
    """
    module = importlib.import_module(name)
    names = [name]
    for found in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if not found.name.startswith("_"):
            names += api_modules(f"{name}.{found.name}")
    return names


def api_markup(name: str) -> list[str]:
    """Return the MyST lines documenting a module, one section per submodule of a package.

    ``name`` is the module's full dotted name.

    >>> print("\\n".join(api_markup("mlcycle_ref.plots")))
    ```{eval-rst}
    .. automodule:: mlcycle_ref.plots
       :members:
    ```
    """
    modules = api_modules(name)
    lines = []
    for number, module in enumerate(modules):
        if number:
            lines += ["", f"## `{module}`", ""]
        lines += ["```{eval-rst}", f".. automodule:: {module}", "   :members:"]
        # A package's __all__ names what its modules define: document those with their own
        # module and keep, for the package, only what it defines itself.
        if len(modules) > 1 and not number:
            lines.append("   :ignore-module-all:")
        lines.append("```")
    return lines


class ApiModule(SphinxDirective):
    """``api-module``: the reference of one module of the package, or of a package and its
    submodules, each submodule under its own heading.

    Its one argument is the module's dotted name; the directive parses what ``api_markup``
    makes of it, so a package's new submodule gets its heading on the package's page. Each
    module's reference opens with links to every name it documents (see ``member_links``,
    applied once the page is read):

    >>> ApiModule.required_arguments, ApiModule.optional_arguments
    (1, 0)
    >>> "## `mlcycle_ref.quiz.bank`" in api_markup("mlcycle_ref.quiz")
    True
    """

    required_arguments = 1

    def run(self):
        try:
            markup = api_markup(self.arguments[0])
        except ImportError as error:
            raise self.error(f"api-module: cannot import {self.arguments[0]}: {error}") from error
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(markup, source=self.env.docname),
                                 container)
        return container.children


def _link_members(app, doctree):
    # After the page is read: a package's submodules are sections of the page by then.
    for part in doctree.findall(nodes.section):
        member_links(part)


def member_links(part: nodes.Element) -> None:
    """Put a paragraph of links to the objects documented directly in ``part`` (a module's
    reference) before the first of them.

    The tables of contents list no functions or classes (``toc_object_entries`` is off, as
    every page's sidebar copied them), so this line is how a reader jumps to one.

    >>> part = nodes.section()
    >>> for name in ("mlcycle_ref.pdf.print_book", "mlcycle_ref.pdf.CHROMIUM"):
    ...     part += addnodes.desc("", addnodes.desc_signature("", "", ids=[name]))
    >>> member_links(part)
    >>> part[0].astext()
    'In this module: print_book, CHROMIUM'
    >>> part[0][1]["refid"]
    'mlcycle_ref.pdf.print_book'
    """
    described = [child for child in part.children if isinstance(child, addnodes.desc)]
    targets = [ids[0] for desc in described
               if (ids := desc.next_node(addnodes.desc_signature).get("ids"))]
    if not targets:
        return
    links = nodes.paragraph(classes=["api-members"])
    links += nodes.Text("In this module: ")
    for number, target in enumerate(targets):
        if number:
            links += nodes.Text(", ")
        links += nodes.reference("", "", nodes.literal(text=target.rpartition(".")[2]),
                                 refid=target, internal=True)
    first = part.index(described[0])
    if first and isinstance(part[first - 1], addnodes.index):
        first -= 1  # the first object's index entry stays next to it
    part.insert(first, links)


_MISSING = object()


def _lookup(name: str):
    """The object a dotted name reaches (its longest importable module, then attributes)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, _MISSING)
            if found is _MISSING:
                break
        return found
    return _MISSING


def defining_name(name: str) -> str | None:
    """Return where the object called ``name`` is defined, when that is another name.

    A package re-exports what its modules define, so a docstring may say ``init`` where the
    reference lists ``mlcycle_ref.course.folder.init``.

    >>> defining_name("mlcycle_ref.quiz.Question")
    'mlcycle_ref.quiz.bank.Question'
    >>> defining_name("mlcycle_ref.quiz.bank.Question") is None
    True
    """
    found = _lookup(name)
    module = getattr(found, "__module__", None)
    qualname = getattr(found, "__qualname__", None)
    if found is _MISSING or not isinstance(module, str) or not isinstance(qualname, str):
        return None
    defined = f"{module}.{qualname}"
    return defined if defined != name else None


def _resolve_reexport(app, env, node, contnode):
    # A docstring names a sibling by its short name ("run", "JobStore.get"): look for it in
    # the module, then in each package above, and link to where it is defined. A name that
    # exists but has no entry of its own (an undocumented constant) stays plain code.
    if node.get("refdomain") != "py":
        return None
    target, module = node["reftarget"], node.get("py:module") or ""
    scopes = module.split(".")
    names = [".".join([*scopes[:depth], target]) for depth in range(len(scopes), 0, -1)]
    for name in [*names, target]:
        if not name.startswith("mlcycle_ref."):
            continue
        defined = defining_name(name) or name
        found = env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder,
                                                  node["reftype"], defined, node, contnode)
        if found is not None:
            return found
        if _lookup(name) is not _MISSING:
            return contnode
    return None


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
    """Register the extension with the Sphinx application ``app``.

    It adds the two directives, the site's CSS and scripts, the search language and the
    handlers of the build's events. On a stand-in application that records the calls:

    >>> class Recorder:
    ...     def __init__(self):
    ...         self.calls = []
    ...     def __getattr__(self, method):
    ...         return lambda first, *rest, **options: self.calls.append((method, first))
    >>> app = Recorder()
    >>> setup(app)["parallel_read_safe"]
    True
    >>> [name for method, name in app.calls if method == "add_directive"]
    ['glossary-bank', 'api-module']
    >>> print(*sorted({event for method, event in app.calls if method == "connect"}), sep="\\n")
    build-finished
    builder-inited
    config-inited
    doctree-read
    env-before-read-docs
    env-updated
    html-page-context
    missing-reference
    """
    app.connect("config-inited", _use_every_core)
    app.connect("config-inited", _use_local_mathjax)
    app.connect("config-inited", _cache_per_package_version)
    app.connect("builder-inited", _install_mathjax)
    app.connect("builder-inited", _install_site_css)
    app.connect("env-before-read-docs", _execute_pages_in_parallel)
    app.connect("env-before-read-docs", _import_documented_modules)
    app.connect("builder-inited", _analyze_only_the_package)
    app.add_css_file(SITE_CSS_FILE)
    app.add_js_file(None, body=SIDEBAR_TOGGLES)
    app.add_js_file(None, body=ACCESSIBILITY_FIXES)
    app.add_js_file(None, body=SEARCH_FIXES)
    app.add_js_file(None, body=PDF_LINK)
    app.add_search_language(SearchAsQueried)
    app.connect("build-finished", _finish_search_index)
    app.connect("html-page-context", _drop_thebe)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("doctree-read", _link_members)
    for phase_end in ("config-inited", "env-before-read-docs", "env-updated", "build-finished"):
        app.connect(phase_end, _freeze_what_lives, priority=900)
    app.connect("html-page-context", _default_colour_mode)
    app.add_directive("glossary-bank", GlossaryBank)
    app.add_directive("api-module", ApiModule)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
