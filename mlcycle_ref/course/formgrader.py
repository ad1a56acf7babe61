"""Manual grading: nbgrader's formgrader for one course, on 127.0.0.1 only.

``mlcycle course grade LAB`` starts a Jupyter server in the course folder with nbgrader's
extension and prints the address of the lab's page, token included. Its "Generate Feedback"
button passes each notebook through :class:`SafeFeedback`, so hidden tests and what student
code printed during them stay out; nbgrader finds the class by name, and nothing else imports
this module, and :class:`OfflineHTMLExporter` takes out anything loaded from another host.
Those pages still lack the grading notes: ``mlcycle course feedback`` writes the finished
pages.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbgrader
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from mlcycle_ref.course.feedback import TEMPLATES, feedback_notebook, offline_html
from mlcycle_ref.course.folder import Course, CourseError

FEEDBACK_PREPROCESSORS = ["nbgrader.preprocessors.GetGrades",
                          "mlcycle_ref.course.formgrader.SafeFeedback",
                          "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
SERVER_CONFIG = """\
c = get_config()  # noqa: F821
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port!r}
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True  # only matters as root, e.g. in a container
c.ServerApp.root_dir = {root!r}
c.ServerApp.jpserver_extensions = {{"nbgrader": True}}
c.IdentityProvider.token = {token!r}
c.GenerateFeedback.preprocessors = {preprocessors!r}
c.GenerateFeedback.exporter_class = "mlcycle_ref.course.formgrader.OfflineHTMLExporter"
c.HTMLExporter.extra_template_basedirs = {templates!r}
"""


class SafeFeedback(Preprocessor):
    """nbconvert step that makes a graded notebook safe to show (see ``feedback_notebook``).

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> from mlcycle_ref import labs
    >>> meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
    ...                      "grade_id": "t", "schema_version": 3}}
    >>> hidden = new_code_cell(f"# hidden\\n{labs.BEGIN_HIDDEN}\\nassert f(3) == 4\\n"
    ...                        f"{labs.END_HIDDEN}", metadata=meta)
    >>> nb, _ = SafeFeedback().preprocess(new_notebook(cells=[hidden]), {})
    >>> "assert" in nb.cells[-1].source
    False
    """

    enabled = Bool(True)  # nbgrader registers its steps without enabling them

    def preprocess(self, nb, resources):
        return feedback_notebook(nb), resources


class OfflineHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter, with every load from another host taken out of the page.

    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> nb = new_notebook(cells=[new_markdown_cell("![logo](https://example.org/logo.png)")])
    >>> page, _ = OfflineHTMLExporter().from_notebook_node(nb)
    >>> "example.org" in page
    False
    """

    def from_notebook_node(self, nb, resources=None, **kwargs):
        page, resources = super().from_notebook_node(nb, resources, **kwargs)
        return offline_html(page), resources


def _feedback_templates(base: Path) -> list[str]:
    """Template folders in which "feedback" is our offline page.

    nbgrader's formgrader asks for the template named "feedback" whatever the configuration
    says, so our offline template is copied under that name, extending nbgrader's own, which
    is copied beside it as "nbgrader_feedback".
    """
    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / (
        "templates")
    shutil.copytree(nbgrader_templates / "feedback", base / "nbgrader_feedback")
    shutil.copytree(TEMPLATES / "feedback_offline", base / "feedback")
    conf = base / "feedback" / "conf.json"
    settings = json.loads(conf.read_text())
    conf.write_text(json.dumps({**settings, "base_template": "nbgrader_feedback"}))
    return [str(base), str(nbgrader_templates)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Formgrader:
    """A running formgrader: its server process, the lab's address and its private folder.

    ``process`` is the Jupyter server, ``url`` the lab's page with the token, ``folder``
    the server's own configuration, templates and log. :func:`start` makes one; here a
    stand-in process shows what :meth:`stop` does:

    >>> import tempfile
    >>> sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    >>> server = Formgrader(sleeper, "http://127.0.0.1:1/", Path(tempfile.mkdtemp()))
    >>> server.stop()
    >>> sleeper.poll() is not None, server.folder.exists()
    (True, False)
    """

    process: subprocess.Popen
    url: str
    folder: Path

    def stop(self) -> None:
        """End the server and remove its folder (configuration, token, log)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(course: Course, lab: str, *, port: int | None = None, wait: float = 120.0,
          stop: threading.Event | None = None):
    """Start the formgrader for ``course`` and return it (see :class:`Formgrader`).

    ``lab`` is a lab name or unique prefix, whose gradebook page the URL opens; ``port``
    the port to listen on (None: a free one). The server listens on 127.0.0.1 only, behind a
    fresh token. It is given ``wait`` seconds to answer; once ``stop`` is set (Ctrl-C while
    it starts, say) the wait ends and the server is returned as it is, for the caller to stop.
    """
    lab = course.resolve(lab)
    port = port or free_port()
    token = secrets.token_hex(24)
    folder = Path(tempfile.mkdtemp(prefix="mlcycle-formgrader-"))
    config = folder / "jupyter_server_config.py"
    templates = _feedback_templates(folder / "templates")
    config.write_text(SERVER_CONFIG.format(port=port, root=str(course.root), token=token,
                                           preprocessors=FEEDBACK_PREPROCESSORS,
                                           templates=templates))
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                   os.environ.get("PATH", "")])}
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - the server writes to it
    process = subprocess.Popen([sys.executable, "-m", "jupyter_server", f"--config={config}"],
                               cwd=course.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        if process.poll() is not None:
            log.close()
            text = (folder / "server.log").read_text()[-2000:]
            shutil.rmtree(folder, ignore_errors=True)
            raise CourseError(f"the formgrader did not start:\n{text}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return Formgrader(process, f"http://127.0.0.1:{port}/formgrader/gradebook/{lab}"
                                  f"?token={token}", folder)
        time.sleep(0.2)
    if stop and stop.is_set():
        return Formgrader(process, "", folder)
    Formgrader(process, "", folder).stop()
    raise CourseError(f"the formgrader did not answer on port {port} within {wait:g} s")
