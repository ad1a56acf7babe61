"""One way to make figures for every plot function in the package.

Plot functions return a matplotlib ``Figure`` and never call ``plt.show()``. They build
the figure outside pyplot, so figures do not pile up in pyplot's list of open figures and
a notebook draws each one once, whether or not pyplot was ever imported in the kernel.

Every picture of such a figure records, in its PNG text chunks, the height of its smallest
text in pixels and how many of its labels overlap (:func:`text_report`): the book's tests read
them back to check that each figure is legible at the width a reader sees it.
"""

import io
import math
from dataclasses import dataclass
from itertools import combinations

from matplotlib.figure import Figure

#: PNG text-chunk keys written into every figure's picture.
SMALLEST_TEXT_KEY = "mlcycle smallest text px"
OVERLAPS_KEY = "mlcycle overlapping labels"


@dataclass
class TextReport:
    """What the text of a drawn figure looks like at the resolution it was drawn.

    ``smallest_px`` is the height of the smallest font in pixels; ``overlaps`` lists the
    pairs of labels whose words collide. :func:`text_report` makes one:

    >>> figure = new_figure((4, 3))
    >>> figure.subplots().set_title("Scores", fontsize=8)  # doctest: +ELLIPSIS
    Text(...)
    >>> report = text_report(figure, dpi=100)
    >>> report.smallest_px < 12, report.overlaps
    (True, [])
    """

    smallest_px: float
    overlaps: list[tuple[str, str]]


def _drawn_texts(figure: Figure, dpi: float) -> list[tuple[str, float, object, float]]:
    """Draw the figure at ``dpi``; return (text, size in points, box, angle) per text drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    original_dpi, original_canvas = figure.dpi, figure.canvas
    figure.dpi = dpi
    try:
        renderer = FigureCanvasAgg(figure).get_renderer()
        drawn = []
        draw_text = renderer.draw_text

        def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip() and mtext is not None:
                drawn.append((s, prop.get_size_in_points(), mtext.get_window_extent(renderer),
                              angle))
            return draw_text(gc, x, y, s, prop, angle, ismath, mtext)

        renderer.draw_text = record
        figure.draw(renderer)
    finally:
        figure.dpi = original_dpi
        figure.set_canvas(original_canvas)
    return drawn


def text_report(figure: Figure, dpi: float | None = None) -> TextReport:
    """Draw ``figure`` and measure its text: the smallest font in pixels, overlapping labels.

    ``dpi`` is the resolution of the picture (the figure's own by default). Two labels
    overlap when their boxes share more than a pixel each way.

    >>> figure = new_figure((4, 3))
    >>> ax = figure.subplots()
    >>> ax.set_xticks([0, 0.01], ["a long label", "another long label"])  # doctest: +ELLIPSIS
    [...]
    >>> report = text_report(figure, dpi=100)
    >>> round(report.smallest_px, 1), report.overlaps
    (13.9, [('a long label', 'another long label')])
    """
    dpi = dpi or figure.dpi
    drawn = _drawn_texts(figure, dpi)
    smallest = min((size * dpi / 72 for _, size, _, _ in drawn), default=float("inf"))
    overlaps = [(first[0], second[0]) for first, second in combinations(drawn, 2)
                if _overlap(first, second, dpi)]
    return TextReport(smallest, overlaps)


def _overlap(first, second, dpi: float) -> bool:
    (_, size_a, a, angle_a), (_, size_b, b, angle_b) = first, second
    wide = min(a.x1, b.x1) - max(a.x0, b.x0)
    tall = min(a.y1, b.y1) - max(a.y0, b.y0)
    if wide <= 1 or tall <= 1:
        return False
    if angle_a == angle_b and angle_a % 90:
        # Slanted labels have boxes that overlap while the words do not: they collide only
        # when their baselines are closer than a line of text.
        radians = math.radians(angle_a)
        across = abs((b.x0 + b.x1 - a.x0 - a.x1) / 2 * -math.sin(radians)
                     + (b.y0 + b.y1 - a.y0 - a.y1) / 2 * math.cos(radians))
        return across < 0.9 * max(size_a, size_b) * dpi / 72
    return True


class _NotebookFigure(Figure):
    """A ``Figure`` that Jupyter draws as a picture, with or without pyplot.

    Jupyter learns to draw figures once pyplot is set up in the kernel; ``_repr_png_``
    covers the time before, and :func:`new_figure` registers it as the PNG printer of this
    class so it is also used after. (Private: matplotlib gives each subclass a ``set``
    method whose docstring Sphinx cannot read.)
    """

    def _repr_png_(self) -> bytes:
        report = text_report(self)
        metadata = {SMALLEST_TEXT_KEY: f"{report.smallest_px:.2f}",
                    OVERLAPS_KEY: "; ".join(" / ".join(pair) for pair in report.overlaps)}
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight", metadata=metadata)
        return buffer.getvalue()


def _print_with_repr_png(figure) -> bytes:
    return figure._repr_png_()


def _register_png_printer() -> None:
    # pyplot's inline backend registers a PNG printer for every Figure; one registered for
    # this subclass is more specific, so IPython picks it and the measurements stay in.
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        formatter = shell.display_formatter.formatters["image/png"]
        formatter.for_type(_NotebookFigure, _print_with_repr_png)


def new_figure(figsize: tuple[float, float] = (6.0, 4.0), **options) -> Figure:
    """Return an empty figure with a constrained layout; add axes with ``subplots()``.

    ``figsize`` is (width, height) in inches; other ``options`` go to matplotlib's
    ``Figure`` (for example ``dpi``).

    >>> figure = new_figure((4, 3))
    >>> ax = figure.subplots()
    >>> figure.get_size_inches().tolist()
    [4.0, 3.0]
    """
    _register_png_printer()
    return _NotebookFigure(figsize=figsize, layout=options.pop("layout", "constrained"), **options)
