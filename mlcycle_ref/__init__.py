"""mlcycle_ref: the package behind the mlcycle course.

One module per step of the machine-learning lifecycle - ``data``, ``explore``,
``features``, ``models``, ``evaluate`` - so that the code reads like the book's table
of contents. The book executes this package, the labs build on it and the ``mlcycle``
command drives quizzes and grading with it.
"""

__version__ = "0.1.0"
