"""Collecting again: the newest submission wins, whatever order the downloads come in, and
Moodle's folders, named after the student, find their owner."""

import zipfile

import nbformat
import pytest
from test_course import LAB, answered, tiny_source

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    (root / "sources" / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), root / "sources" / LAB / f"{LAB}.ipynb")
    roster = root / "students.csv"
    roster.write_text("id,first_name,last_name\ns001,Zoë,Ng\ns002,Ada,Lovelace\n"
                      "s003,José,Núñez\n", encoding="utf-8")
    return course.init(root / "course", roster, source=root / "sources")


def lms_zip(path, entries):
    """A zip whose entries are (name, (y, m, d, H, M, S), text)."""
    with zipfile.ZipFile(path, "w") as bundle:
        for name, when, text in entries:
            bundle.writestr(zipfile.ZipInfo(name, when), text)
    return path


def test_an_older_zip_collected_after_a_newer_one_changes_nothing(tiny, tmp_path, mlcycle):
    first = nbformat.writes(answered(tiny, written="first try"))
    second = nbformat.writes(answered(tiny, written="second try"))
    newer = lms_zip(tmp_path / "newer.zip", [(f"s002_{LAB}.ipynb", (2026, 11, 3, 9, 0, 0),
                                              second)])
    older = lms_zip(tmp_path / "older.zip", [(f"s002_{LAB}.ipynb", (2026, 11, 1, 9, 0, 0),
                                              first)])
    assert course.collect(tiny, LAB, older).collected == {"s002": f"s002_{LAB}.ipynb"}
    report = course.collect(tiny, LAB, newer)
    assert report.replaced == {"s002": f"s002_{LAB}.ipynb replaces the one of "
                                       "2026-11-01 09:00 UTC"}
    code, out, _ = mlcycle("course", "collect", "tiny", "--from", older, "--course", tiny.root)
    assert code == 0 and "Collected 0 submission(s)" in out
    assert ("Older than the submission collected before, skipped (1):\n  s002: "
            f"s002_{LAB}.ipynb (2026-11-01 09:00 UTC) is older than the one collected before "
            "(2026-11-03 09:00 UTC)") in out
    assert tiny.submitted("s002", LAB).read_text() == second
    stamp = (tiny.submitted("s002", LAB).parent / "timestamp.txt").read_text()
    assert stamp.startswith("2026-11-03 09:00:00")


def test_moodle_folders_named_after_students_are_matched(tiny, tmp_path):
    notebook = nbformat.writes(answered(tiny))
    archive = lms_zip(tmp_path / "moodle.zip", [
        ("Zoë Ng_4711_assignsubmission_file_/tiny_lab.ipynb", (2026, 11, 2, 8, 0, 0), notebook),
        ("JOSÉ NÚÑEZ_4712_assignsubmission_file_/my lab.ipynb", (2026, 11, 2, 8, 0, 0),
         notebook),
        ("Ada Lovelacey_4713_assignsubmission_file_/tiny_lab.ipynb", (2026, 11, 2, 8, 0, 0),
         notebook),
    ])
    report = course.collect(tiny, LAB, archive)
    assert sorted(report.collected) == ["s001", "s003"]
    assert report.unknown == ["Ada Lovelacey_4713_assignsubmission_file_/tiny_lab.ipynb"]


def test_a_timestamp_file_beside_the_notebook_gives_its_time(tiny, tmp_path):
    folder = tmp_path / "exchange" / "s001"
    folder.mkdir(parents=True)
    nbformat.write(answered(tiny), folder / f"{LAB}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-30 18:15:00.000000 UTC")
    report = course.collect(tiny, LAB, tmp_path / "exchange")
    assert report.collected == {"s001": f"s001/{LAB}.ipynb"} and not report.stray
    stamp = (tiny.submitted("s001", LAB).parent / "timestamp.txt").read_text()
    assert stamp.startswith("2026-11-30 18:15:00")
    (folder / "timestamp.txt").write_text("yesterday")
    with pytest.raises(course.CourseError, match="s001/timestamp.txt: not a time"):
        course.collect(tiny, LAB, tmp_path / "exchange")
