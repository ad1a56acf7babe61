"""The debugger's report: one self-contained HTML page with the rule table and the figures.

The page is a Jinja2 template with autoescaping on, so a rule message or a title holding
``<`` or ``&`` shows as text; the figures are embedded as PNG data URLs, so the file points
to no other file and to no server.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
import pandas as pd
from matplotlib.figure import Figure

from mlcycle_ref.debugger.figures import STATUS_COLORS, report_figures
from mlcycle_ref.debugger.monitor import Monitor

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}
img{max-width:100%}</style></head>
<body><h1>{{ title }}</h1>
<p>{{ rounds }} boosting rounds, {{ "%.2f" | format(seconds) }} s of
training; training {{ "stopped by " ~ stopped_by if stopped_by else "ran to the end" }}.</p>
<h2>Rule summary</h2>
<table><tr><th>rule</th><th>status</th><th>round</th><th>what it saw</th><th>parameters</th></tr>
{% for row in results %}
<tr style="background:{{ colors[row.status] }}"><td>{{ row.rule }}</td><td>{{ row.status }}</td>
<td>{{ row.round }}</td><td>{{ row.message }}</td><td><code>{{ row.parameters }}</code></td></tr>
{% endfor %}
</table>
{% for name, png in images %}
<h2>{{ name.replace("_", " ").capitalize() }}</h2>
<img alt="{{ name }}" src="data:image/png;base64,{{ png }}">
{% endfor %}
</body></html>
"""
_PAGE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                           undefined=jinja2.StrictUndefined).from_string(TEMPLATE)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_report(monitor: Monitor, path, *, title: str = "Debugger report") -> Path:
    """Write one self-contained HTML file: rule table and figures as embedded PNG images.

    Nothing in the file points to another file or to the network, so it opens anywhere.

    Parameters
    ----------
    monitor : a monitor that has watched a training run
    path : the HTML file to write (its folder must exist); returned as a ``Path``
    title : the page's title and heading

    Examples
    --------
    >>> import tempfile
    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", train, validation, "target", n_estimators=10)
    >>> page = write_report(monitor, Path(tempfile.mkdtemp()) / "report.html",
    ...                     title="Trees & <leaves>").read_text()
    >>> page.count("data:image/png;base64,"), "<h1>Trees &amp; &lt;leaves&gt;</h1>" in page
    (3, True)
    """
    results = [{"rule": row.rule, "status": row.status, "message": row.message,
                "round": "" if pd.isna(row.iteration) else int(row.iteration),
                "parameters": row.parameters}
               for row in monitor.results().itertuples()]
    figures = report_figures(monitor)
    figures.pop("rule_summary")  # the page has the table itself
    history = monitor.history
    page = _PAGE.render(
        title=title, rounds=len(history),
        seconds=float(history["seconds"].sum()) if len(history) else 0.0,
        stopped_by=monitor.stopped_by, results=results, colors=STATUS_COLORS,
        images=[(name, _png(fig)) for name, fig in figures.items()])
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
