"""What the panels share: the base class :class:`Panel` (workspace, header, Refresh, progress,
one-line messages) and small HTML helpers (tables, boxes, intervals, chart outputs)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import html
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as W
import polars as pl

from .._util import current_actor
from ..errors import MlmmError
from ..workspace import Workspace, open_workspace

__all__ = ["Panel", "STYLE", "box", "chart_output", "classed", "esc", "fmt", "frame_table", "interval",
           "shown", "table", "text_output"]

log = logging.getLogger("mlmm")

STYLE = {
    "ok": "color:#1b5e20;background:#e8f5e9;border-left:4px solid #2e7d32",
    "info": "color:#0d47a1;background:#e3f2fd;border-left:4px solid #1565c0",
    "warn": "color:#7a4f01;background:#fff8e1;border-left:4px solid #f9a825",
    "error": "color:#b71c1c;background:#ffebee;border-left:4px solid #c62828",
}


# ----------------------------------------------------------------------------- small HTML helpers
def esc(value: Any) -> str:
    """``value`` as text, HTML-escaped (quotes kept)."""
    return html.escape(str(value), quote=False)


def box(text: str, level: str = "info") -> str:
    """A one-line message box; ``level`` is a key of :data:`STYLE` (ok, info, warn, error)."""
    return f'<div class="mlmm-{level}" style="{STYLE[level]};padding:6px 10px;margin:4px 0">{esc(text)}</div>'


def fmt(value: Any, digits: int = 4) -> str:
    """A cell value as a person reads it: ``–`` for None, yes/no, rounded floats, grouped ints."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, _dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def table(columns: Sequence[str] | None, rows: Sequence[Sequence[Any]], *, css: str = "mlmm-table") -> str:
    """A plain HTML table (cells escaped); ``columns=None``: no header row."""
    cell = "border-bottom:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top"
    head = "" if columns is None else \
        "<tr>" + "".join(f'<th style="{cell};background:#f5f5f5">{esc(c)}</th>' for c in columns) + "</tr>"
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{esc(fmt(v))}</td>' for v in row) + "</tr>" for row in rows)
    return f'<table class="{css}" style="border-collapse:collapse;font-size:13px">{head}{body}</table>'


def frame_table(frame: pl.DataFrame, *, css: str = "mlmm-table", empty: str = "nothing to show") -> str:
    """A frame as a :func:`table`; ``empty`` in italics when it has no rows."""
    if frame.is_empty():
        return f"<i>{esc(empty)}</i>"
    return table(frame.columns, frame.rows(), css=css)


def interval(value: float | None, low: float | None, high: float | None, *, percent: bool = False) -> str:
    """``value [low, high]``, as signed percentages when ``percent``; ``–`` for None."""
    if value is None:
        return "–"
    if percent:
        return f"{value:+.2%} [{low:+.2%}, {high:+.2%}]"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def chart_output(chart: Any) -> dict[str, Any]:
    """A display_data output of an Altair chart: SVG from vl-convert when it is installed (no
    CDN needed), else the active renderer's bundle."""
    import altair as alt

    try:
        with alt.renderers.enable("svg"):
            bundle = chart._repr_mimebundle_()
    except Exception:  # vl-convert missing or failing: fall back to the active renderer
        log.debug("chart not rendered to SVG; using Altair's active renderer", exc_info=True)
        bundle = chart._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    return {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}


def text_output(text: str) -> dict[str, Any]:
    """A display_data output that shows ``text`` (in italics in HTML), e.g. where a chart has no data."""
    return {"output_type": "display_data", "data": {"text/plain": text, "text/html": f"<i>{esc(text)}</i>"},
            "metadata": {}}


def shown(widget: W.Widget, visible: bool) -> None:
    """Show or hide ``widget`` (its layout's ``display``)."""
    widget.layout.display = None if visible else "none"


def classed(widget: W.DOMWidget, css: str) -> Any:
    """Add the CSS class ``css`` to ``widget`` (tests and the browser test find it by it); return it."""
    widget.add_class(css)
    return widget


# ----------------------------------------------------------------------------- base
class Panel:
    """What every panel has: the workspace, a message line, a step progress bar, refresh."""

    title = ""

    def __init__(self, ws: Workspace | str | None, actor: str | None) -> None:
        self.actor = actor
        self.message = classed(W.HTML(), "mlmm-message")
        self.progress = classed(W.IntProgress(value=0, min=0, max=1, bar_style="info",
                                              layout=W.Layout(width="260px", display="none")), "mlmm-progress")
        self.status = classed(W.HTML(), "mlmm-status")
        self.refresh_button = classed(W.Button(description="Refresh", icon="refresh", tooltip="re-read the workspace",
                                               layout=W.Layout(width="auto")), "mlmm-refresh")
        self.refresh_button.on_click(self._guard(lambda _b: self.refresh()))
        self.ws: Workspace | None = None
        try:
            self.ws = ws if isinstance(ws, Workspace) else open_workspace(ws)
        except Exception as exc:
            self._fail(exc)

    # -- display ---------------------------------------------------------------------------
    widget: W.Box

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        where = self.ws.path if self.ws is not None else "no workspace"
        return f"<{type(self).__name__} {where}>"

    def _header(self) -> W.HTML:
        who = esc(current_actor(self.actor))
        return W.HTML(f"<h3 style='margin:4px 0'>{esc(self.title)}</h3>"
                      f"<span style='color:#666;font-size:12px'>workspace {esc(self.ws.path if self.ws else '-')}"
                      f" · acting as {who}</span>")

    # -- messages and errors ---------------------------------------------------------------
    def _say(self, text: str, level: str = "info") -> None:
        self.message.value = box(text, level)

    def _fail(self, exc: BaseException) -> None:
        """Show an error as one line; mlmm's own errors carry their message, others their type."""
        if isinstance(exc, MlmmError):
            text = str(exc)
        else:
            log.debug("panel error", exc_info=exc)
            text = f"{type(exc).__name__}: {exc}"
        self._say(text, "error")

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a callback: any exception becomes the panel's message."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            if self.ws is None:
                self._say("no workspace: pass one, or set MLMM_HOME", "error")
                return
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                self._fail(exc)

        return wrapper

    @contextlib.contextmanager
    def _working(self, what: str, steps: int) -> Iterator[Callable[[str], None]]:
        """Show the progress bar while a query runs; ``step(label)`` advances it."""
        self.progress.value = 0
        self.progress.max = max(steps, 1)
        self.progress.description = ""
        shown(self.progress, True)
        self.status.value = f"<i>{esc(what)} …</i>"

        def step(label: str) -> None:
            self.progress.value = min(self.progress.value + 1, self.progress.max)
            self.status.value = f"<i>{esc(what)}: {esc(label)} …</i>"

        try:
            yield step
        finally:
            shown(self.progress, False)
            self.status.value = ""

    def refresh(self) -> None:  # pragma: no cover - every panel overrides it
        raise NotImplementedError

