"""Offline report pages (:func:`mlmm.reports.html.export_html`) and the pinned kernel
(:func:`mlmm.reports.kernel.ensure_kernel`): charts become SVG, nothing is fetched from the network,
code is hidden unless asked for, and notebooks run on this interpreter whatever ``PATH`` says.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import mlmm
from mlmm.reports.html import _vegalite_version, export_html
from mlmm.reports.kernel import ensure_kernel, kernel_dir

BAR = "#d62728"  # a colour nothing else on the page uses, to find the bars in a screenshot
CHART = f"""\
import altair as alt
import polars as pl
frame = pl.DataFrame({{"day": ["mon", "tue", "wed"], "errors": [3, 7, 5]}})
chart = alt.Chart(frame, title="errors per day").mark_bar(color="{BAR}").encode(x="day:N", y="errors:Q")
chart"""
ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
SVG_IMG = re.compile(r'<img alt="([^"]*)" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
CHROMIUM = shutil.which("chromium", path="/usr/bin")


def _other_python() -> str:
    """An interpreter that is not this venv's (its sys.prefix differs)."""
    for candidate in ("/usr/bin/python3", os.path.join(sys.base_prefix, "bin", "python3")):
        if os.path.exists(candidate):
            return candidate
    pytest.skip("no second Python interpreter to put first on PATH")


@pytest.fixture(scope="module")
def poisoned_path(tmp_path_factory) -> str:
    """A PATH whose python, python3 and python3.X are another interpreter."""
    bin_dir = tmp_path_factory.mktemp("other-python")
    other = _other_python()
    for name in ("python", "python3", f"python3.{sys.version_info.minor}"):
        (bin_dir / name).symlink_to(other)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory, poisoned_path) -> Path:
    """A small report notebook executed by Papermill on the ensured kernel, with a hostile PATH."""
    import papermill as pm

    folder = tmp_path_factory.mktemp("executed")
    nb = new_notebook(cells=[
        new_markdown_cell("# Offline report\n\nErrors per *day*."),
        new_code_cell("import json, sys\nprint(json.dumps({'executable': sys.executable, 'prefix': sys.prefix}))"),
        new_code_cell(CHART),
        new_code_cell("frame"),
    ])
    source, target = folder / "offline_report.ipynb", folder / "out" / "offline_report.ipynb"
    target.parent.mkdir()
    nbformat.write(nb, source)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", poisoned_path)
        pm.execute_notebook(str(source), str(target), kernel_name=ensure_kernel(), progress_bar=False,
                            cwd=str(folder), execution_timeout=60)
    return target


def _external(html: str) -> list[str]:
    """Every src/href value that is neither inline data nor an in-page anchor."""
    values = [next(v for v in m.groups()[1:] if v is not None) for m in ATTRIBUTE.finditer(html)]
    return [v for v in values if not v.startswith(("data:", "#"))]


def _charts(html: str) -> list[tuple[str, str]]:
    return [(alt, base64.b64decode(data).decode()) for alt, data in SVG_IMG.findall(html)]


# -- the kernel -------------------------------------------------------------------------------------

def test_the_kernel_runs_this_interpreter_whatever_path_says(executed, poisoned_path):
    other = subprocess.run(["python", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                           env={**os.environ, "PATH": poisoned_path}, check=True).stdout.strip()
    assert other != sys.prefix  # the PATH really leads elsewhere
    nb = nbformat.read(executed, as_version=4)
    seen = json.loads(nb.cells[1].outputs[0].text)
    assert seen == {"executable": sys.executable, "prefix": sys.prefix}
    assert os.path.realpath(seen["executable"]) == os.path.realpath(sys.executable)


def test_ensure_kernel_writes_under_sys_prefix_only(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert ensure_kernel() == "mlmm"
    assert list(home.iterdir()) == []
    spec = json.loads((Path(sys.prefix) / "share/jupyter/kernels/mlmm/kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                            "--IPKernelApp.log_level=ERROR"]
    found = KernelSpecManager().get_kernel_spec("mlmm")
    assert (found.argv[0], Path(found.resource_dir)) == (sys.executable, kernel_dir("mlmm"))


@pytest.fixture
def scratch_kernel():
    name = f"mlmm-test-{uuid.uuid4().hex[:8]}"
    yield name
    shutil.rmtree(kernel_dir(name), ignore_errors=True)


def test_a_stale_spec_is_rewritten_and_a_current_one_left_alone(scratch_kernel):
    folder = kernel_dir(scratch_kernel)
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({"argv": ["/old/venv/bin/python", "-m", "ipykernel_launcher",
                                                             "-f", "{connection_file}"],
                                                    "display_name": "old", "language": "python"}))
    assert ensure_kernel(scratch_kernel) == scratch_kernel
    spec = json.loads((folder / "kernel.json").read_text())
    assert (spec["argv"][0], spec["display_name"]) == (sys.executable, f"Python 3.{sys.version_info.minor} (mlmm)")
    assert sorted(p.name for p in folder.iterdir()) == ["kernel.json", "logo-32x32.png", "logo-64x64.png",
                                                        "logo-svg.svg"]
    stamp = (folder / "kernel.json").stat().st_mtime_ns, (folder / "kernel.json").stat().st_ino
    assert ensure_kernel(scratch_kernel) == scratch_kernel
    assert ((folder / "kernel.json").stat().st_mtime_ns, (folder / "kernel.json").stat().st_ino) == stamp


def test_a_shadowing_spec_is_reported(scratch_kernel, tmp_path, monkeypatch):
    shadow = tmp_path / "kernels" / scratch_kernel
    shadow.mkdir(parents=True)
    (shadow / "kernel.json").write_text(json.dumps({"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher"],
                                                    "display_name": "x", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    message = (f"kernelspec '{scratch_kernel}' resolves to {shadow / 'kernel.json'} with argv[0]=['/usr/bin/python3']: "
               f"expected {sys.executable} from {kernel_dir(scratch_kernel) / 'kernel.json'}; remove that file or set "
               "JUPYTER_PREFER_ENV_PATH=1")
    with pytest.raises(mlmm.MlmmError) as info:
        ensure_kernel(scratch_kernel)
    assert str(info.value) == message


def test_a_bad_kernel_name_is_refused():
    with pytest.raises(mlmm.ValidationError) as info:
        ensure_kernel("My Kernel")
    assert str(info.value) == ("name='My Kernel': expected a kernel name of lower-case letters, digits, '.', '_' or '-'")


# -- the page ---------------------------------------------------------------------------------------

def test_an_altair_chart_becomes_an_inline_svg_and_nothing_is_remote(executed, tmp_path):
    html = export_html(executed, tmp_path / "report.html").read_text()
    assert _external(html) == []
    assert re.findall(r"(?i)cdn|mathjax|vegaEmbed|require\.js|<script[^>]*\bsrc\b|<link[^>]*\bhref\b", html) == []
    assert {u.split(",")[0] for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html)} <= {
        "data:image/png;base64", "data:image/svg+xml;base64"}
    [(alt, svg)] = _charts(html)
    assert alt == "errors per day" and svg.startswith("<svg")
    assert re.findall(r'aria-label="day: (\w+); errors: (\d+)"', svg) == [("mon", "3"), ("tue", "7"), ("wed", "5")]
    assert svg.count(f'fill="{BAR}"') == 3 and ">errors per day</text>" in svg
    assert "<title>offline_report</title>" in html
    assert "Errors per <em>day</em>" in html  # markdown
    assert '"executable": ' in html  # printed text
    assert re.search(r'<table border="1" class="dataframe">.*<td>"tue"</td><td>7</td>', html, re.S)  # the polars table


def test_code_is_hidden_unless_asked_for(executed, tmp_path):
    hidden = export_html(executed, tmp_path / "a.html").read_text()
    shown = export_html(executed, tmp_path / "b.html", show_code=True, title="Errors").read_text()
    editor = '<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor"'
    assert ("mark_bar" in hidden, hidden.count(editor)) == (False, 0)
    assert ("mark_bar" in shown, shown.count(editor)) == (True, 3)
    assert re.findall(r'class="jp-(?:Input|Output)Prompt', hidden + shown) == []
    assert "<title>Errors</title>" in shown and _external(shown) == []
    assert len(_charts(shown)) == 1


def test_vegalite_and_vega_bundles_are_rendered_too(tmp_path):
    import altair as alt
    import vl_convert as vlc

    spec = alt.Chart(alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 4}]), description="two points").mark_point(
        ).encode(x="x:Q", y="y:Q").to_dict()
    older = {**spec, "$schema": "https://vega.github.io/schema/vega-lite/v5.20.1.json"}
    outputs = [
        new_output("display_data", {"application/vnd.vegalite.v6+json": spec, "text/plain": "<VegaLite 6>"}),
        new_output("display_data", {"application/vnd.vegalite.v5+json": older, "text/plain": "<VegaLite 5>"}),
        new_output("display_data", {"application/vnd.vega.v6+json": vlc.vegalite_to_vega(spec),
                                    "text/plain": "<Vega 6>"}),
        new_output("display_data", {"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                                    "text/plain": "IntSlider(value=3)"}),
    ]
    nb = new_notebook(cells=[new_code_cell("charts", outputs=outputs)])
    html = export_html(nb, tmp_path / "nested" / "dir" / "report.html").read_text()
    charts = _charts(html)
    assert [alt_text for alt_text, _ in charts] == ["two points"] * 3
    assert all(svg.count('aria-roledescription="point"') == 2 for _, svg in charts)
    assert "IntSlider(value=3)" in html and "<title>report</title>" in html and _external(html) == []
    assert [p.name for p in (tmp_path / "nested" / "dir").iterdir()] == ["report.html"]  # no temp file left
    assert nb.cells[0].outputs[0].data["text/plain"] == "<VegaLite 6>"  # the caller's notebook is untouched
    assert "image/svg+xml" not in nb.cells[0].outputs[0].data


def test_a_chart_that_cannot_be_drawn_leaves_a_note(tmp_path, caplog):
    bad = {"$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json", "data": {"values": [{"a": 1}]},
           "mark": "nonsense"}
    nb = new_notebook(cells=[new_code_cell("bad", outputs=[
        new_output("display_data", {"application/vnd.vegalite.v6+json": bad, "text/plain": "<chart>"})])])
    with caplog.at_level(logging.WARNING, logger="mlmm"):
        html = export_html(nb, tmp_path / "report.html").read_text()
    assert "[chart not rendered for the offline report: " in html and _charts(html) == []
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["cell 0"]


def test_the_vegalite_version_follows_the_schema():
    bundled = ["5.8", "5.14", "5.20", "5.21", "6.1", "6.4"]
    def schema(v: str) -> dict[str, str]:
        return {"$schema": f"https://vega.github.io/schema/vega-lite/v{v}.json"}
    assert _vegalite_version(schema("6.4.1"), bundled) == "6.4"
    assert _vegalite_version(schema("6.3.0"), bundled) == "6.1"
    assert _vegalite_version(schema("5.20.1"), bundled) == "5.20"
    assert _vegalite_version(schema("5.2.0"), bundled) == "5.8"  # older than any bundled 5.x: the oldest 5.x
    assert _vegalite_version(schema("7.0.0"), bundled) is None  # unknown major: vl-convert's newest
    assert _vegalite_version({}, bundled) is None


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(mlmm.NotFoundError) as info:
        export_html(tmp_path / "missing.ipynb", tmp_path / "x.html")
    assert str(info.value) == f"notebook='{tmp_path / 'missing.ipynb'}': no such file; expected an executed .ipynb"
    with pytest.raises(mlmm.ValidationError) as info2:
        export_html(42, tmp_path / "x.html")  # type: ignore[arg-type]
    assert str(info2.value) == "notebook=int: expected a path or an nbformat NotebookNode"


# -- a real browser, network off --------------------------------------------------------------------

def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
             f"--user-data-dir={profile}", "--proxy-server=http://127.0.0.1:9",  # any request would fail
             "--hide-scrollbars", "--window-size=1000,1200"]
    return subprocess.run([CHROMIUM, *flags, *extra, page.as_uri()], capture_output=True, text=True, timeout=60,
                          check=True)


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="/usr/bin/chromium is not installed "
                                                           "(apt-get install chromium) ")


@needs_chromium
def test_a_headless_browser_offline_has_the_chart_in_its_dom(executed, tmp_path):
    page = export_html(executed, tmp_path / "report.html")
    dom = _chromium(page, tmp_path / "profile", "--dump-dom").stdout
    [(alt, svg)] = _charts(dom)
    assert alt == "errors per day" and svg.count(f'fill="{BAR}"') == 3
    assert "<table" in dom and "Errors per <em>day</em>" in dom


@needs_chromium
def test_a_headless_browser_offline_paints_the_chart(executed, tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="Pillow is needed to read the screenshot")
    page = export_html(executed, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    _chromium(page, tmp_path / "profile", f"--screenshot={shot}")
    rgb = image_module.open(shot).convert("RGB").tobytes()
    red = sum(1 for r, g, b in zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True)
              if abs(r - 0xD6) < 8 and abs(g - 0x27) < 8 and abs(b - 0x28) < 8)
    assert red > 2000  # three bars drawn, so the SVG was decoded and painted
