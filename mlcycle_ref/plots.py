"""One way to make figures for every plot function in the package.

Plot functions return a matplotlib ``Figure`` and never call ``plt.show()``. They build
the figure outside pyplot, so figures do not pile up in pyplot's list of open figures and
a notebook draws each one once, whether or not pyplot was ever imported in the kernel.
"""

import io

from matplotlib.figure import Figure


class _NotebookFigure(Figure):
    """A ``Figure`` that Jupyter draws as a picture, with or without pyplot.

    Jupyter learns to draw figures once pyplot is set up in the kernel; ``_repr_png_``
    covers the time before. (Private: matplotlib gives each subclass a ``set`` method whose
    docstring Sphinx cannot read.)
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_figure(figsize: tuple[float, float] = (6.0, 4.0), **options) -> Figure:
    """Return an empty figure with a constrained layout; add axes with ``subplots()``.

    >>> figure = new_figure((4, 3))
    >>> ax = figure.subplots()
    >>> figure.get_size_inches().tolist()
    [4.0, 3.0]
    """
    return _NotebookFigure(figsize=figsize, layout=options.pop("layout", "constrained"), **options)
