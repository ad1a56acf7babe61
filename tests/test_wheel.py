"""The course installs as a package: a wheel with banks and released labs, without solutions.

The wheel is built offline from a copy of the files a distribution is made of (so the shared
checkout gets no ``build/`` folder) and installed, not editable, into a fresh virtual
environment that borrows the test environment's third-party packages through a ``.pth`` file.
The commands then run outside the repository, where only the installed package can answer.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from lab_secrets import leaks, secret_lines

from mlcycle_ref import labs, paths

DISTRIBUTION = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "mlcycle_ref",
                "quizzes", "labs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in DISTRIBUTION:
        origin = paths.REPOSITORY / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(origin, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(out), str(source)],
                   check=True, cwd=source)
    (built,) = out.glob("mlcycle-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its ``bin`` folder."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "borrowed-test-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    return home / "bin"


def run(bin_folder: Path, *args, cwd: Path, check=True):
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "MLCYCLE_QUIZ_DIR")}
    env.update(PATH=f"{bin_folder}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1",
               MLCYCLE_DATA_DIR=str(cwd / "data"))
    result = subprocess.run([bin_folder / "mlcycle", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_wheel_carries_banks_and_released_labs_and_no_solutions(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = "mlcycle_ref/course_files/"
    for lab in labs.available(labs.RELEASED):
        assert f"{shipped}labs/{lab}/{lab}.ipynb" in names
    assert f"{shipped}quizzes/quiz.yml" in names and f"{shipped}quizzes/glossary.yml" in names
    assert not [name for name in names if "solutions" in name.split("/")]
    secrets, found = secret_lines(), {}
    with zipfile.ZipFile(wheel) as archive:
        for name in names:
            # The package's modules are the reference behaviour the labs are graded against
            # and name the markers they look for; the files it ships must hold no secret.
            if not name.endswith(".py"):
                found[name] = leaks(archive.read(name).decode("utf-8", errors="replace"),
                                    secrets)
    assert {name: found for name, found in found.items() if found} == {}


def test_installed_package_answers_from_its_own_files(installed, tmp_path):
    located = run(installed, "--version", cwd=tmp_path)
    assert located.stdout.startswith("mlcycle")
    checked = run(installed, "quiz", "check", "quiz", "q04", "--answer",
                  "We score the model on rows it never saw and compare with the true labels",
                  "--json", cwd=tmp_path, check=False)
    # Exit status 0 for a right answer, 1 for one that misses points; both read the bank.
    assert checked.returncode in (0, 1) and '"score"' in checked.stdout, checked.stderr
    assert "Glossary progress" in run(installed, "glossary", "stats", cwd=tmp_path).stdout


def test_students_get_the_labs_and_check_them_with_the_installed_package(installed, tmp_path):
    run(installed, "labs", "get", "my-labs", cwd=tmp_path)
    copied = sorted(path.name for path in (tmp_path / "my-labs").iterdir())
    assert copied == labs.available(labs.RELEASED)
    again = run(installed, "labs", "get", "my-labs", "lab01", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "your work is kept" in again.stderr

    notebook = tmp_path / "my-labs" / "lab01_exploration" / "lab01_exploration.ipynb"
    report = run(installed, "labs", "check", str(notebook), cwd=tmp_path, check=False)
    assert report.returncode == 1 and "not attempted yet" in report.stdout, report.stderr
    assert "Visible tests: 0 of" in report.stdout


def test_the_kernel_of_the_self_check_imports_the_installed_package(installed, tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                         "grade_id": "where", "schema_version": 3}}
    probe = tmp_path / "probe.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        f"import mlcycle_ref\nassert mlcycle_ref.__file__.startswith({str(installed.parent)!r}),"
        " mlcycle_ref.__file__", metadata=meta)]), probe)
    report = run(installed, "labs", "check", str(probe), cwd=tmp_path, check=False)
    assert report.returncode == 0, report.stdout + report.stderr


def test_course_init_asks_an_installed_package_for_the_lab_sources(installed, tmp_path):
    refused = run(installed, "course", "init", "my-course", cwd=tmp_path, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "--source" in refused.stderr and "carries no solutions" in refused.stderr
