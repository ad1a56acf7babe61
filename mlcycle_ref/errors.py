"""The one base of every error the course raises for its user to fix.

Bad input (a file, a field, a notebook cell, a lab name) raises a subclass of
:class:`MlcycleError` whose message names what is wrong and where. The ``mlcycle`` command
prints such a message and exits with status 2 instead of showing a traceback; a traceback
means a bug.

>>> from mlcycle_ref.data import DataError
>>> issubclass(DataError, MlcycleError) and issubclass(DataError, ValueError)
True
"""


class MlcycleError(Exception):
    """Something the user can fix; the message says what and where.

    Catch it to handle every such error at once, as the ``mlcycle`` command does:

    >>> from mlcycle_ref import data
    >>> try:
    ...     data.load("irises")
    ... except MlcycleError as error:
    ...     print(error)
    unknown dataset 'irises'; available: penguins, breast_cancer, wine, diabetes, campaign
    """


class NotFound(MlcycleError, KeyError):
    """A named thing - a job, a model version - that is not there; the message says what is.

    >>> str(NotFound("no job called 'firts'"))
    "no job called 'firts'"
    """

    def __str__(self) -> str:
        # KeyError would print the message in quotes, as it does a missing key.
        return str(self.args[0]) if self.args else ""
