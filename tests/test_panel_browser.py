"""The panel notebook as a web app in a real browser: Voila serves it on a temporary demo
workspace, headless Chromium (Debian's ``chromium``, driven by Playwright) picks a test,
presses Deploy B, gives a reason, confirms, and the registry shows the decision.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``MLMM_CHROMIUM`` points
elsewhere), and the ``voila`` and ``playwright`` packages. Nothing is downloaded: the browser
is never installed by Playwright, and every request that is not to the local Voila server is
aborted. Without them the test is skipped, or fails when ``MLMM_REQUIRE_BROWSER`` is set (CI).
The screenshot goes to ``reports/panel-browser.png``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmm
from mlmm import ab
from mlmm.cli import app

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "ab_decision_panel.ipynb"
SCREENSHOT = ROOT / "reports" / "panel-browser.png"
CHROMIUM = os.environ.get("MLMM_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
STARTUP_SECONDS = 60  # Voila listening
PAGE_SECONDS = 90  # the notebook executed and its widgets drawn (a cold kernel imports polars, altair, ...)
STEP_MS = 30_000  # each click's effect in the page
ACTOR = "browser-tester"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set MLMM_CHROMIUM)"
    for module, package in (("voila", "voila"), ("playwright.sync_api", "playwright")):
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            return f"the {package} package is not installed (pip install -e '.[test]')"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("MLMM_REQUIRE_BROWSER"):
        pytest.fail(f"MLMM_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"Voila did not listen on port {port} within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """End Voila and the kernels it started (its own process group, by id)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # kernels left behind in the group


@pytest.fixture
def voila_app(tmp_path):
    """Voila serving the panel notebook on a private copy of the session's demo workspace."""
    reason = _missing()
    if reason:
        _skip_or_fail(reason)
    home = tmp_path / "ws"
    shutil.copytree(os.environ["MLMM_HOME"], home)
    port = _free_port()
    jupyter = tmp_path / "jupyter"
    env = dict(os.environ, MLMM_HOME=str(home), MLMM_USER=ACTOR, JUPYTER_DATA_DIR=str(jupyter / "data"),
               JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), JUPYTER_CONFIG_DIR=str(jupyter / "config"),
               IPYTHONDIR=str(jupyter / "ipython"), PYTHONWARNINGS="ignore")
    log = tmp_path / "voila.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
             "--VoilaConfiguration.show_tracebacks=True"],
            cwd=NOTEBOOK.parent, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_listening(proc, port, log)
        yield f"http://127.0.0.1:{port}/", home, log
    finally:
        _stop(proc)


def test_a_person_decides_an_ab_test_in_the_browser(voila_app):
    from playwright.sync_api import expect, sync_playwright

    url, home, log = voila_app
    reason = "B finds more N+1 queries in the canary"
    override = "the team accepts the risk before the planned sample"
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2600})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # offline: only the local server (icon fonts from a CDN are not needed)
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                       else route.abort())
            page.set_default_timeout(STEP_MS)
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_SECONDS * 1000)
            panel = page.locator(".mlmm-ab-panel")
            picker = panel.locator(".mlmm-test-picker select")
            picker.wait_for(timeout=PAGE_SECONDS * 1000)

            # 1. choose the test
            option = picker.locator("option[value^='ab-n1-challenger-75:']").get_attribute("value")
            picker.select_option(value=option)
            expect(panel.locator(".mlmm-summary")).to_contain_text("n1-detector", timeout=STEP_MS)
            expect(panel.locator(".mlmm-recommendation")).to_contain_text("Recommendation: Continue", timeout=STEP_MS)
            # 2. Deploy B, a reason, and (the statistics do not back it yet) an override reason
            panel.locator("button.mlmm-deploy-b").click()
            expect(panel.locator(".mlmm-confirm-box")).to_be_visible(timeout=STEP_MS)
            expect(panel.locator(".mlmm-prompt")).to_contain_text("The statistics do not support this", timeout=STEP_MS)
            panel.locator(".mlmm-reason textarea").fill(reason)
            panel.locator(".mlmm-override textarea").fill(override)
            panel.locator("button.mlmm-confirm").click()
            # 3. the outcome, in the page
            message = panel.locator(".mlmm-message")
            expect(message).to_contain_text(f"recorded by {ACTOR}", timeout=STEP_MS)
            expect(message).to_contain_text("ab-n1-challenger-75 closed; n1-detector 1.1.0 deployed to production",
                                            timeout=STEP_MS)
            expect(panel.locator(".mlmm-confirm-box")).to_be_hidden(timeout=STEP_MS)
            expect(panel.locator(".mlmm-decisions")).to_contain_text(f"deploy: {reason}", timeout=STEP_MS)
            expect(panel.locator(".mlmm-progress")).to_be_hidden(timeout=STEP_MS)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert not errors, f"JavaScript errors in the page: {errors}\n{log.read_text()[-2000:]}"

    # 4. the registry has it, as `mlmm models history` shows
    ws = mlmm.open_workspace(home)
    try:
        decision = ws.registry.history("n1-detector").filter(pl.col("event") == "decision")
        assert decision.select("version", "actor", "reason", "summary").rows() == [
            ("1.1.0", ACTOR, f"override: {override}", f"deploy: {reason} (override: {override})")]
        test = ab.get_test(ws, "ab-n1-challenger-75")
        assert (test.status, test.decision, test.actor) == ("decided", "deploy_b", ACTOR)
    finally:
        ws.close()
    shown = CliRunner().invoke(app, ["models", "history", "n1-detector", "--workspace", str(home), "--json"])
    assert shown.exit_code == 0, shown.output
    events = [e for e in json.loads(shown.stdout) if e["event"] == "decision"]
    assert [(e["actor"], e["summary"]) for e in events] == [(ACTOR, f"deploy: {reason} (override: {override})")]
    assert SCREENSHOT.stat().st_size > 10_000
