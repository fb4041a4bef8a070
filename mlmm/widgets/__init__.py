"""Widget panels for notebooks and Voila: A/B decisions, the registry, monitoring.

Three panels built from ipywidgets, each a thin view over functions of ``mlmm`` (no
statistics here):

- :class:`ABDecisionPanel`: pick a running A/B test and see what :func:`mlmm.ab.evaluate`
  says (metrics with intervals, lift, p-values, the peeking-safe verdict, sample progress,
  the sample-ratio check, the recommendation); change alpha or the minimum improvement and
  the verdict follows; decide with Deploy B / Keep A / Continue / Roll back, a reason (and an
  override reason when the statistics do not support the choice), recorded through
  :func:`mlmm.decisions.record_decision`.
- :class:`RegistryBrowser`: models, versions, environments, the configuration difference
  between two versions or revisions, the history as a table and a timeline; deploy and roll
  back after a confirmation.
- :class:`MonitorPanel`: a model, a version and a window; metric cards with Wilson intervals
  and the trend chart (:func:`mlmm.monitor.trends`).

Every panel has ``.widget`` (the ipywidgets container shown in a notebook), ``refresh()``
and a Refresh button that re-read the workspace, a progress bar that counts the steps of a
long query, and ``.message``, where an error appears as one line (never a traceback). The
sub-widgets are attributes, so code and tests drive a panel as a person would::

    panel = ABDecisionPanel(ws)
    panel.test_picker.value = "ab-n1-challenger-75"
    panel.deploy_b.click()
    panel.reason.value = "B catches more N+1 queries"
    panel.override.value = "the product team accepts the risk"
    panel.confirm.click()

Charts are drawn as SVG by vl-convert (Altair's ``svg`` renderer) when it is installed, so a
panel served by Voila needs no CDN; without it they use Altair's active renderer.

Example
-------
>>> import tempfile, mlmm
>>> ws = mlmm.open_workspace(tempfile.mkdtemp())
>>> _ = ws.registry.register("m", "1.0.0", config={"threshold": 0.5})
>>> _ = ws.registry.register("m", "1.1.0", config={"threshold": 0.7})
>>> browser = RegistryBrowser(ws, actor="ana")
>>> browser.deploy_version.value, browser.deploy_env.value = "1.1.0", "staging"
>>> browser.reason.value = "smoke test"
>>> browser.deploy_button.click()
>>> browser.confirm.click()
>>> browser.message.value
'<div class="mlmm-ok" ...>deployed m 1.1.0 to staging (by ana)</div>'
>>> "threshold" in browser.diff_table.value
True
"""

from __future__ import annotations

from .ab_panel import ABDecisionPanel
from .monitor_panel import MonitorPanel
from .registry_browser import RegistryBrowser

__all__ = ["ABDecisionPanel", "MonitorPanel", "RegistryBrowser"]
