"""What a teaching page (Voilà, `advexplore teach`) shows instead of Python reprs.

    from advexplore.widgets.teaching import results_table, show_results, teaching_mode

    show_results(summary(runs), title="test risks")        # instead of print(summary(runs))
    table = results_table(net, columns="eps")              # an ipywidgets.HTML, can be updated:
    table.value = results_html(new_numbers, columns="eps")
    for step in tqdm(range(n), disable=teaching_mode()):   # no progress bar on students' pages

`results_html` turns a flat dict (name -> value), a dict of dicts (row -> column -> value) or
a dict of equal-length lists (row -> values, one column per position, or per value of the
`columns` row, e.g. the ε grid) into an HTML table with numbers to `digits` significant digits.
Everything is escaped. In JupyterLab and headless runs the same calls work (the HTML shows).
"""
from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence

TABLE_STYLE = ("border-collapse:collapse;font-size:13px;margin:4px 0 10px 0;"
               "font-variant-numeric:tabular-nums")
CELL = "padding:2px 10px;border-bottom:1px solid #ddd;text-align:right"
HEAD = "padding:2px 10px;border-bottom:2px solid #999;text-align:right;font-weight:600"
ROW_HEAD = "padding:2px 10px;border-bottom:1px solid #ddd;text-align:left;font-weight:600"


def teaching_mode() -> bool:
    """True in a kernel of `advexplore teach` (ADVEXPLORE_TEACH=1) or of any Voilà server
    (Voilà sets VOILA_APP_PORT in its kernels): hide progress bars, print less."""
    return os.environ.get("ADVEXPLORE_TEACH") == "1" or "VOILA_APP_PORT" in os.environ


def format_value(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensors and numpy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{digits}g}".replace("-", "−")
    if isinstance(value, int):
        return str(value).replace("-", "−")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v, digits)}" for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(format_value(v, digits) for v in value) + "]"
    return str(value)


def _is_sequence(value) -> bool:
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:
        return True
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _as_list(value) -> list:
    return value.tolist() if hasattr(value, "tolist") else list(value)


def _cell(value, digits, style=CELL) -> str:
    return f'<td style="{style}">{html.escape(format_value(value, digits))}</td>'


def results_html(data: Mapping, title: str | None = None, digits: int = 4, columns: str | Sequence | None = None,
                 row_label: str = "") -> str:
    """An HTML table of `data` (see the module's docstring for the three shapes)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"results_html takes a dict, not {type(data).__name__}")
    caption = (f'<caption style="text-align:left;font-weight:600;padding:4px 0">{html.escape(title)}</caption>'
               if title else "")
    values = list(data.values())
    rows: list[str] = []
    if values and all(isinstance(v, Mapping) for v in values):  # row -> column -> value
        keys = list(dict.fromkeys(k for v in values for k in v))
        head = [html.escape(row_label)] + [html.escape(str(k)) for k in keys]
        for name, inner in data.items():
            rows.append(f'<td style="{ROW_HEAD}">{html.escape(str(name))}</td>'
                        + "".join(_cell(inner.get(k), digits) for k in keys))
    elif values and all(_is_sequence(v) for v in values) and len({len(_as_list(v)) for v in values}) == 1:
        table = {k: _as_list(v) for k, v in data.items()}
        if isinstance(columns, str) and columns in table:  # one row becomes the header (e.g. the ε grid)
            header_values, label = table.pop(columns), columns
            head = [html.escape(row_label or label)] + [html.escape(format_value(v, digits)) for v in header_values]
        else:
            width = len(next(iter(table.values())))
            header_values = list(columns) if columns is not None else list(range(width))
            head = [html.escape(row_label)] + [html.escape(format_value(v, digits)) for v in header_values]
        for name, row in table.items():
            rows.append(f'<td style="{ROW_HEAD}">{html.escape(str(name))}</td>'
                        + "".join(_cell(v, digits) for v in row))
    else:  # name -> value
        head = [html.escape(row_label or "quantity"), "value"]
        for name, value in data.items():
            rows.append(f'<td style="{ROW_HEAD}">{html.escape(str(name))}</td>' + _cell(value, digits))
    thead = "".join(f'<th style="{HEAD if i else HEAD.replace("right", "left")}">{h}</th>'
                    for i, h in enumerate(head))
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return (f'<table class="advexplore-results" style="{TABLE_STYLE}">{caption}'
            f"<thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>")


def results_table(data: Mapping, title: str | None = None, digits: int = 4, columns=None, row_label: str = ""):
    """`results_html` in an ipywidgets.HTML: display it, put it in a VBox, or set its `.value`
    again after a refit."""
    import ipywidgets as widgets

    return widgets.HTML(results_html(data, title=title, digits=digits, columns=columns, row_label=row_label))


def show_results(data: Mapping, title: str | None = None, digits: int = 4, columns=None, row_label: str = ""):
    """Display `data` as an HTML table (an IPython HTML output: also in static exports)."""
    from IPython.display import HTML, display

    display(HTML(results_html(data, title=title, digits=digits, columns=columns, row_label=row_label)))
