"""The table of contents teaches in order, and the API reference has a page per module."""

import importlib
import inspect
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


# Modules whose every parameter the API reference describes. The rest of the package is
# still to be brought up to this (see the issue); add a module here once it is.
DESCRIBED = ("book", "plots", "tables", "pdf", "explore", "evaluate")


def undescribed_parameters(module) -> list[str]:
    """Parameters of the module's public functions, classes and methods its docstrings omit."""
    missing = []
    for name, thing in vars(module).items():
        if name.startswith("_") or getattr(thing, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(thing):
            members = [(name, thing, inspect.getdoc(thing) or "")]
        elif inspect.isclass(thing):
            described = inspect.getdoc(thing) or ""
            # A class's own parameters are those of an __init__ it defines (a dataclass's
            # fields too); inherited ones are documented where they come from.
            own = [(name, thing, described)] if "__init__" in vars(thing) else []
            members = own + [
                (f"{name}.{attribute}", method, described + (inspect.getdoc(method) or ""))
                for attribute, method in vars(thing).items()
                if inspect.isfunction(method) and not attribute.startswith("_")]
        else:
            continue
        for label, function, doc in members:
            try:
                parameters = inspect.signature(function).parameters
            except (TypeError, ValueError):
                continue
            missing += [f"{module.__name__}.{label}({parameter})" for parameter in parameters
                        if parameter not in ("self", "cls", "args", "kwargs")
                        and not re.search(rf"\b{parameter}\b", doc)]
    return missing


def test_every_parameter_is_described_in_the_described_modules():
    missing = []
    for name in DESCRIBED:
        missing += undescribed_parameters(importlib.import_module(f"mlcycle_ref.{name}"))
    assert not missing, "\n".join(missing)
