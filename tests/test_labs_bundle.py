"""The student's copy of the labs and their JupyterLab: what `mlcycle labs get` and
`mlcycle labs setup-jupyter` leave on a student's machine."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from mlcycle_ref import labs
from mlcycle_ref.labs import bundle, jupyter


def test_get_copies_released_labs_and_keeps_a_students_work(tmp_path, mlcycle):
    code, out, _ = mlcycle("labs", "get", tmp_path / "mine")
    assert code == 0 and out.count("copied") == len(labs.available(labs.RELEASED))
    notebook = tmp_path / "mine" / "lab03_training" / "lab03_training.ipynb"
    assert notebook.read_bytes() == (labs.RELEASED / "lab03_training" /
                                     "lab03_training.ipynb").read_bytes()
    notebook.write_text("my work")
    code, _, err = mlcycle("labs", "get", tmp_path / "mine", "lab03")
    assert code == 2 and "your work is kept" in err and notebook.read_text() == "my work"
    code, _, _ = mlcycle("labs", "get", tmp_path / "mine", "lab03", "--overwrite")
    assert code == 0 and nbformat.read(notebook, as_version=4).cells


def test_zip_of_chosen_labs_holds_their_files_only(tmp_path):
    archive = bundle.write_zip(tmp_path / "two.zip", ["lab01", "lab07"])
    assert zipfile.ZipFile(archive).namelist() == [
        "labs/lab01_exploration/lab01_exploration.ipynb",
        "labs/lab07_pipeline/lab07_pipeline.ipynb"]


def test_setup_jupyter_turns_off_the_instructor_plugins_only(tmp_path, mlcycle, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"some-other:plugin": true}}')
    code, out, _ = mlcycle("labs", "setup-jupyter")
    assert code == 0 and "Validate button stays" in out
    listed = subprocess.run(
        [Path(sys.executable).parent / "jupyter", "labextension", "list"],
        capture_output=True, text=True, env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path)})
    disabled = listed.stdout + listed.stderr
    disabled = disabled[disabled.index("Disabled extensions"):]
    assert all(plugin in disabled for plugin in jupyter.INSTRUCTOR_PLUGINS)
    assert "some-other:plugin" in (tmp_path / "labconfig" / "page_config.json").read_text()
    assert "validate-assignment" not in disabled and "assignment-list" not in disabled


def test_get_with_the_sites_address_points_chapter_links_at_it(tmp_path, mlcycle):
    code, _, _ = mlcycle("labs", "get", tmp_path, "lab01", "--site", "https://ml.example.org/")
    assert code == 0
    text = "".join(cell.source for cell in nbformat.read(
        tmp_path / "lab01_exploration" / "lab01_exploration.ipynb", as_version=4).cells)
    assert "](https://ml.example.org/book/lifecycle/exploration.html)" in text
    assert "../../book/" not in text
