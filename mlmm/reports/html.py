"""Self-contained HTML for executed report notebooks: readable offline, charts included.

nbconvert's stock HTML (``HTMLExporter``, template ``lab``) is not self-contained:

* its page head loads require.js and MathJax from cdnjs (``require_js_url``, ``mathjax_url``),
  a ``type="module"`` script imports mermaid from cdnjs, and a notebook with widget state pulls
  the widget manager from jsdelivr;
* an Altair chart is an output whose ``text/html`` (Altair's default ``html`` renderer, which
  is what report notebooks produce) is a script that loads vega, vega-lite and vega-embed from
  jsdelivr, or (``mimetype`` renderer) an ``application/vnd.vegalite.v6+json`` bundle that the
  ``lab`` template cannot draw at all. Offline, the chart is blank either way.

:func:`export_html` therefore

1. replaces every chart output by a static ``image/svg+xml`` rendering made by
   `vl-convert <https://github.com/vega/vl-convert>`_ (Vega and Vega-Lite compiled in Rust
   with an embedded JavaScript runtime; no browser, no network). The Vega-Lite version is
   the one named in the spec's ``$schema`` (Altair 6.3 writes ``v6.4.1``; vl-convert 1.9
   bundles 5.8 to 6.4), else the newest bundled minor of the same major;
2. renders with a template derived from ``lab`` whose require.js, MathJax, mermaid and
   widget blocks are empty, so the page has no ``<script src>`` and no remote stylesheet
   (the lab CSS is inlined by nbconvert already).

Why SVG rather than inlining the vega JavaScript bundle (``vl_convert.javascript_bundle``):
a report is an archived record, not an app. A static SVG draws in any viewer, with
JavaScript disabled, in mail clients and when printed; it costs a few tens of kB per chart
instead of about 1 MB of JavaScript per page, and the page cannot break when a future
browser or bundle changes. nbconvert embeds SVG as ``<img src="data:image/svg+xml;base64,...">``
(its ``skip_svg_encoding`` default), which keeps each chart's element ids and any script in it
isolated from the page. What is lost is interactivity (tooltips, selections, zoom); the
executed ``.ipynb`` next to ``report.html`` keeps the live chart.

Also lost offline by design: LaTeX in markdown shows as its TeX source (no MathJax), mermaid
diagrams as their source, and ipywidgets as their text fallback. Any other output that
references a remote resource (a third-party ``<script src="https://...">`` in ``text/html``)
is kept as it is and logged as a warning.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["export_html"]

log = logging.getLogger("mlmm")

# The ``lab`` template minus everything it would fetch from a CDN; SVG images get an ``alt``.
_OFFLINE_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
<img src="data:image/svg+xml;base64,{{ output.data['image/svg+xml'] | text_base64 | escape_html }}"
 alt="{{ (output.metadata.get('alt') or 'No description has been provided for this image') | escape_html }}">
</div>
{%- endblock data_svg -%}
"""

_VEGALITE_MIME = re.compile(r"^application/vnd\.vegalite\.v(\d+)(?:\.\d+)*\+json$")
_VEGA_MIME = re.compile(r"^application/vnd\.vega\.v(\d+)(?:\.\d+)*\+json$")
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_SCHEMA_VERSION = re.compile(r"/schema/(vega-lite|vega)/v(\d+)(?:\.(\d+))?")
# Where Altair's HTML templates ("universal", "olli", "standard", "inline") put the spec.
_SPEC_START = re.compile(r"\}\)\(\s*(?=\{)|\b(?:var|const|let)\s+spec\s*=\s*(?=\{)")
_EMBED_OPT = re.compile(r"\s*,\s*(?=\{)|;\s*(?:var|const|let)\s+embedOpt\s*=\s*(?=\{)")
_EXTERNAL = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|@import\s+(?:url\()?\s*["']?((?:https?:)?//[^"')\s;]+)"""
    r"""|\bimport\(\s*["']((?:https?:)?//[^"']+)""",
    re.IGNORECASE,
)


def export_html(notebook: str | Path | NotebookNode, target: str | Path, *, show_code: bool = False,
                title: str | None = None) -> Path:
    """Write an executed notebook as one self-contained HTML file.

    The page references no remote resource: charts (Altair / Vega-Lite / Vega outputs) are
    rendered to SVG and embedded, and the template loads no script from a CDN. Input and
    output prompts are hidden; code cells are hidden unless ``show_code``. Tables (HTML
    reprs), printed text, images and markdown are kept. The notebook itself is not changed.

    Parameters
    ----------
    notebook
        Path to an ``.ipynb`` file, or a notebook read with :mod:`nbformat` (version 4).
    target
        The HTML file to write. Written atomically (a temporary file in the same directory,
        then :func:`os.replace`), so a reader never sees half a page; missing parent
        directories are created.
    show_code
        Show the code cells' source (default: only their outputs).
    title
        The page title; default the notebook's ``metadata.title``, else the file name
        without ``.ipynb`` (``"report"`` for an in-memory notebook).

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    NotFoundError
        ``notebook`` is a path that does not exist.
    ValidationError
        ``notebook`` is neither a path nor a notebook node.

    Examples
    --------
    >>> import nbformat, tempfile
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hello")])
    >>> page = export_html(nb, Path(tempfile.mkdtemp()) / "hello.html", title="Greeting")
    >>> text = page.read_text()
    >>> "<title>Greeting</title>" in text, "<script src" in text, "mathjax" in text.lower()
    (True, False, False)
    """
    import nbformat
    from nbconvert import HTMLExporter

    if isinstance(notebook, str | Path):
        path = Path(notebook)
        if not path.is_file():
            raise NotFoundError(f"notebook={str(notebook)!r}: no such file; expected an executed .ipynb")
        node = nbformat.read(path, as_version=4)
        name = path.stem
    elif isinstance(notebook, Mapping) and "cells" in notebook:
        node = copy.deepcopy(notebook)
        name = "report"
    else:
        raise ValidationError(f"notebook={type(notebook).__name__}: expected a path or an nbformat NotebookNode")
    if title is not None:
        node.setdefault("metadata", {})["title"] = title

    charts = _render_charts(node)
    exporter = HTMLExporter(template_name="lab", raw_template=_OFFLINE_TEMPLATE,
                            exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": name}})
    remote = sorted({next(g for g in m.groups() if g) for m in _EXTERNAL.finditer(body)})
    if remote:
        log.warning("%s: the page still references remote resources (from notebook outputs): %s",
                    target, ", ".join(remote))

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("wrote %s (%d charts rendered to SVG)", target, charts)
    return target


def _render_charts(nb: NotebookNode) -> int:
    """Replace, in place, every chart output of ``nb`` by its SVG; return how many."""
    count = 0
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            data.pop(_WIDGET_MIME, None)  # needs a widget manager from a CDN; keep the text fallback
            found = _find_chart(data, output.get("metadata") or {})
            if found is None:
                continue
            mode, spec, options = found
            try:
                svg = _to_svg(mode, spec, options)
            except Exception as exc:  # vl-convert raises ValueError with the Vega message
                log.warning("cell %d: chart not rendered: %s", index, exc)
                note = f"[chart not rendered for the offline report: {exc}]"
                output["data"] = {"text/plain": note}
                continue
            output["data"] = {"image/svg+xml": svg, "text/plain": data.get("text/plain", "<chart>")}
            output["metadata"] = {"alt": _alt_text(spec)}
            count += 1
    return count


def _find_chart(data: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``(mode, spec, embed options)`` of a chart output, or ``None`` when it is not one."""
    for mime, value in data.items():
        for mode, pattern in (("vega-lite", _VEGALITE_MIME), ("vega", _VEGA_MIME)):
            if pattern.match(mime):
                spec = json.loads(value) if isinstance(value, str) else dict(value)
                options = (metadata.get(mime) or {}).get("embed_options") or {}
                return mode, spec, dict(options)
    html = data.get("text/html")
    if isinstance(html, list):
        html = "".join(html)
    if isinstance(html, str) and "vegaEmbed" in html:
        return _spec_from_html(html)
    return None


def _spec_from_html(html: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The spec and embed options inside an Altair HTML-renderer output."""
    decoder = json.JSONDecoder()
    for match in _SPEC_START.finditer(html):
        try:
            spec, end = decoder.raw_decode(html, match.end())
        except ValueError:
            continue
        if not isinstance(spec, dict):
            continue
        options: dict[str, Any] = {}
        opt = _EMBED_OPT.match(html, end)
        if opt:
            try:
                options = decoder.raw_decode(html, opt.end())[0]
            except ValueError:
                options = {}
        schema = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
        mode = options.get("mode") or (schema.group(1) if schema else "vega-lite")
        return mode, spec, options
    log.warning("an output mentions vegaEmbed but holds no spec that could be read; kept as it is")
    return None


def _alt_text(spec: Mapping[str, Any]) -> str:
    """A chart's ``description``, else its title, else ``"chart"``."""
    title = spec.get("title")
    if isinstance(title, Mapping):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(spec.get("description") or title or "chart")


def _vegalite_version(spec: Mapping[str, Any], supported: list[str]) -> str | None:
    """The bundled Vega-Lite version closest to the spec's ``$schema`` (``None``: newest)."""
    match = _SCHEMA_VERSION.search(str(spec.get("$schema", "")))
    if not match or match.group(1) != "vega-lite":
        return None
    major, minor = int(match.group(2)), int(match.group(3) or 0)
    same_major = sorted((tuple(int(p) for p in v.split(".")), v) for v in supported if int(v.split(".")[0]) == major)
    if not same_major:
        log.warning("Vega-Lite v%d.%d: not bundled by vl-convert (bundled: %s); using the newest",
                    major, minor, ", ".join(supported))
        return None
    older = [v for key, v in same_major if key <= (major, minor)]
    return older[-1] if older else same_major[0][1]


def _to_svg(mode: str, spec: dict[str, Any], options: Mapping[str, Any]) -> str:
    import vl_convert as vlc

    kwargs: dict[str, Any] = {k: options[k] for k in ("format_locale", "time_format_locale") if options.get(k)}
    if mode == "vega":
        return vlc.vega_to_svg(spec, **kwargs)
    if mode != "vega-lite":
        raise ValidationError(f"embed option mode={mode!r}: expected 'vega-lite' or 'vega'")
    for key in ("theme", "config"):
        if options.get(key):
            kwargs[key] = options[key]
    return vlc.vegalite_to_svg(spec, vl_version=_vegalite_version(spec, vlc.get_vegalite_versions()), **kwargs)
