"""A late-submission policy for nbgrader: points off per hour late.

nbgrader imports it by name from ``nbgrader_config.py`` (see
:func:`mlcycle_ref.course.deadlines.set_penalty`); nothing else imports it, so the ``mlcycle``
command does not pay for importing nbgrader.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float


class PerHourPenalty(LateSubmissionPlugin):
    """``points_per_hour`` off for every hour started after the due date.

    nbgrader caps a penalty at the notebook's score, so the total never goes below zero.

    >>> plugin = PerHourPenalty(points_per_hour=2.0)
    >>> plugin.late_submission_penalty("s001", 20.0, 3 * 3600 + 1)
    8.0
    """

    points_per_hour = Float(1.0, help="points off per hour (or part of one) late").tag(
        config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return math.ceil(total_seconds_late / 3600) * self.points_per_hour
