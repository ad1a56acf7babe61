"""Build hook: copy the course files a student may have into the wheel as package data.

The question banks (``quizzes/``) and the released labs (``labs/``) live at the top of the
repository, where instructors edit them; a wheel carries copies under
``mlcycle_ref/course_files/`` so that an installed package finds them with
``importlib.resources`` (see ``mlcycle_ref.paths.course_files``). ``solutions/`` is never copied.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("quizzes", "labs")
SKIPPED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class BuildWithCourseFiles(build_py):
    def run(self):
        super().run()
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                target = Path(self.build_lib) / "mlcycle_ref" / "course_files" / name
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target, ignore=SKIPPED)


setup(cmdclass={"build_py": BuildWithCourseFiles})
