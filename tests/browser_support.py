"""Helpers for the browser tests: a fresh build, a local web server, a watched browser context.

Chromium is Debian's (`apt-get install chromium`); Playwright only drives it, so no browser is
ever downloaded.
"""

import fcntl
import functools
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
# The book builds into <OUTPUT>/_build/html: the repository by default, as `make book` does;
# MLCYCLE_BOOK_OUTPUT names another folder, so parallel work need not share one build.
OUTPUT = Path(os.environ.get("MLCYCLE_BOOK_OUTPUT", ROOT))
SITE = OUTPUT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
# --no-sandbox: Chromium refuses to start as root without it. The rest stop the browser's own
# background traffic (updates, sync), so every request we see comes from the site.
LAUNCH = {
    "executable_path": CHROMIUM,
    "headless": True,
    "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"],
}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"file", "data", "blob"}
# What the site is made from: a change to any of these makes the built site stale.
SOURCES = ("book", "quizzes", "_toc.yml", "_config.yml", "mlcycle_ref/book.py",
           "mlcycle_ref/quiz/sphinx_ext.py", "mlcycle_ref/quiz/static")
# Console errors that say nothing about the site, each with the reason it is harmless.
# None at present: the book declares a favicon, so Chromium no longer asks for /favicon.ico.
HARMLESS_CONSOLE_ERRORS: dict[str, str] = {}


def is_local(url: str) -> bool:
    """Whether a request stays on this machine.

    >>> [is_local(u) for u in ("file:///a.html", "http://127.0.0.1:8000/x.js",
    ...                        "data:image/png;base64,AA", "https://cdn.example.org/x.js")]
    [True, True, True, False]
    """
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


def newest_source_time(root: Path = ROOT) -> float:
    """The modification time of the most recently changed file the site is built from."""
    times = []
    for name in SOURCES:
        path = root / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        times += [p.stat().st_mtime for p in files]
    return max(times)


def build_book(*options: str) -> subprocess.CompletedProcess:
    """Build the book into ``OUTPUT`` as `make book` does (warnings are errors)."""
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / "jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going",
         "--path-output", str(OUTPUT), *options],
        capture_output=True, text=True, timeout=1500,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "OMP_NUM_THREADS": "1"},
    )


@contextmanager
def builds_locked(what: str = "build"):
    """Hold the build folder (or the part of it named ``what``) for one test process: the
    suite runs in several (pytest -n), and two builds into one folder would spoil each other."""
    lock = OUTPUT / "_build" / f".tests-{what}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_built(site: Path = SITE) -> Path:
    """Return the built site, building the book first (as `make book` does) unless a build by
    the tests succeeded since the sources last changed."""
    # Not Sphinx's .buildinfo: a build that failed on a warning writes it too.
    built = OUTPUT / "_build" / ".tests-built-ok"

    def fresh():
        return built.is_file() and built.stat().st_mtime >= newest_source_time()

    # A fresh site is read without the lock, which the PDF test holds for a minute while it
    # builds the single-page book beside it (in its own folder).
    if fresh():
        return site
    with builds_locked():  # another test process may be building it right now
        if not fresh():
            result = build_book("--all")
            assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
            built.touch()
    return site


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would drown the test output
        pass


@contextmanager
def serve(directory: Path):
    """Serve a folder over http on 127.0.0.1 with a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Watch:
    """What a browser context did wrong: script errors, console errors, requests that left."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        """Record every request of the context (aborting any that would leave the machine)
        and every page error and console error."""
        context.route("**/*", self._route)
        context.on("weberror", lambda error: self.errors.append(
            f"{error.page.url if error.page else '?'}: {error.error}"))
        context.on("console", self._console)

    def _route(self, route):
        if is_local(route.request.url):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message):
        source = message.location.get("url", "")
        if message.type == "error" and not any(source.endswith(known)
                                               for known in HARMLESS_CONSOLE_ERRORS):
            self.errors.append(f"{message.page.url if message.page else '?'}: {message.text}")


@contextmanager
def launched_browser():
    """Debian's Chromium, driven by Playwright, for as long as the block runs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**LAUNCH)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(browser, viewport: dict = DESKTOP):
    """A page in a fresh context; afterwards, fail on any error or request that left."""
    context = browser.new_context(viewport=viewport)
    watch = Watch()
    watch.attach(context)
    try:
        yield context.new_page()
    finally:
        context.close()
    assert not watch.outside, f"requests left the machine: {watch.outside}"
    assert not watch.errors, "\n".join(watch.errors)
