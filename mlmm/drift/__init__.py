"""Drift: per-column two-sample tests, a dataset verdict, chunks over time, reference sketches,
stored references and checks on the workspace, and concept-drift detectors.

Layout
------
The pure core works on frames and arrays; the services know the workspace.

======================  ==========================================================================
module                  concern
======================  ==========================================================================
``prepared``            a column's reference or current side prepared for the tests (sorted, counted)
``stattests``           the two-sample tests and distances (KS, Wasserstein, PSI, JS, chi-square, ...)
``columns``             the verdict on one column: choice of test, threshold, correction across columns
``report``              :class:`ColumnDrift`, :class:`QualityIssue`, :class:`DriftReport`
``quality``             data-quality checks before drift (:func:`quality_checks`)
``sketch``              :class:`ReferenceSketch`: a reference without its rows
``comparison``          :func:`compare`: a current frame against a reference
``chunks``              :func:`chunked`: drift of each chunk over time
``features``            service: stored references, :func:`check` of a window of the log, history
``charts``              Altair charts of a check and of drift over time
``detectors``           stream detectors :class:`DDM` and :class:`PageHinkley`
``concept``             :func:`detect_concept_drift` over an error stream
======================  ==========================================================================

Data drift
----------

Pure functions of frames: :func:`compare` takes a reference and a current frame (polars, pandas
or pyarrow) and returns a :class:`DriftReport`; :func:`chunked` repeats it per time period, row
block or chunk; :class:`ReferenceSketch` keeps what the tests need from a reference (quantiles,
histograms, category counts) as compact JSON, so a current window can be compared without the raw
reference; :func:`quality_checks` reports the data-quality problems that come before drift.

Automatic choice of test
------------------------
Mirrors Evidently's defaults (``DataDriftPreset``, stattest auto-selection, v0.1.50 and later).
``n`` is the number of non-missing reference values of the column. A numeric column with at most
5 distinct reference values is treated as categorical (Evidently counts the values of both
samples together; mlmm counts the reference's, so a saved sketch is enough to decide).

===========  ===========================================  ==========================================
column       n <= 1000                                    n > 1000
===========  ===========================================  ==========================================
numeric      ``ks``: drift if p < 0.05                    ``wasserstein`` (normalized): drift if >= 0.1
categorical  ``chisquare`` (``z`` if <= 2 categories):     ``jensenshannon``: drift if >= 0.1
             drift if p < 0.05
===========  ===========================================  ==========================================

P-value tests for small samples; distances with thresholds for large ones, because at a million
rows every p-value test flags a shift nobody would act on. Every choice is overridable per column
(``tests={"age": "psi"}``), and so is every threshold (``thresholds={"age": 0.25}`` or by test
name, ``thresholds={"psi": 0.25}``). The dataset drifts when the share of drifted columns is at
least ``drift_share`` (default 0.5, as Evidently).

Tests
-----
================  ===========  ========================================  =========  ===============
test              columns      statistic                                 drift if   from a sketch
================  ===========  ========================================  =========  ===============
``ks``            numeric      two-sample Kolmogorov-Smirnov D           p < 0.05   approximate [1]
``wasserstein``   numeric      Wasserstein-1 / std of the reference      >= 0.1     approximate [2]
``anderson``      numeric      k-sample Anderson-Darling (midrank)       p < 0.05   raw data only
``psi``           both         population stability index                >= 0.1     exact
``jensenshannon`` both         Jensen-Shannon distance, base 2, [0, 1]   >= 0.1     exact
``chisquare``     categorical  Pearson chi-square, 2 x k homogeneity     p < 0.05   exact
``z``             categorical  two-proportion z (pooled), <= 2 classes   p < 0.05   exact
================  ===========  ========================================  =========  ===============

* **KS**: D exact from the sorted samples; p-value as scipy's ``method="auto"``: exact (scipy) when
  both samples have at most 10 000 values, else Smirnov's asymptotic ``kstwo.sf(D, round(nm/(n+m)))``.
* **Wasserstein**: exact, from the two quantile functions, divided by the reference's standard
  deviation (``ddof=0``, as Evidently); a constant reference uses the pooled standard deviation of
  both samples instead, and both constant at one value gives 0.
* **Anderson-Darling**: scipy's ``anderson_ksamp``; its p-value comes from a table and is capped
  to [0.001, 0.25]. It is slow at large sizes, so it is never chosen automatically.
* **PSI**: ``sum((c - r) * ln(c / r))`` over quantile bins of the reference (``bins=10`` by
  default; bin ``i`` is ``[q_i, q_{i+1})``, the outer bins are open). Tied quantiles merge bins, so
  a column with many ties gets fewer bins. A proportion of 0 (empty bin, unseen category) is
  replaced by ``PSI_EPSILON = 1e-4``, Evidently's constant (its newer versions go lower when a
  non-empty share is itself below 1e-4). Conventional reading: < 0.1 stable,
  0.1-0.25 minor shift, > 0.25 major shift (Siddiqi, *Intelligent Credit Scoring*, 2017).
* **Jensen-Shannon**: distance (square root of the divergence) with base-2 logarithms, so it lies in
  [0, 1]. Evidently uses natural logarithms: its 0.1 equals 0.120 here. Numeric columns use the PSI
  bins.
* **Chi-square**: test of homogeneity of the 2 x k table (reference, current) x category, so an
  unseen category has a finite contribution (a goodness-of-fit test against reference proportions
  would divide by zero).

[1] The sketch keeps the reference CDF at its quantiles: D is evaluated there only, so it is a
lower bound off by at most one quantile step (1/``resolution``). [2] From the means of
``resolution`` equal-rank slices of each sample, ``mean |mean_r(slice) - mean_c(slice)|``: a lower
bound, exact when the quantile functions do not cross inside a slice. A sketch of a reference with
at most ``exact_max`` values keeps them all, and then every test is exact.

Speed: each numeric column is sorted once per side (numpy, a thread per core); quantile bins,
histograms (``searchsorted`` of the bin edges), KS, Wasserstein, ranges and missing counts all
come from the sorted arrays in linear or logarithmic time; categorical columns are counted once by
polars. 20 numeric and 5 categorical columns, 1 M rows against 1 M rows, take about 0.5-0.9 s on
a 2-core machine (the sorts are most of it); a sketch saves the reference half of the sorting.

Missing values (null or NaN) and infinities are excluded from the distribution tests and reported
as shares; categories seen only in the current data are named in ``details["unseen"]`` (the 20
most frequent, with counts; ``details["n_unseen"]`` counts them all).
Multiple-testing correction (Bonferroni, Holm, Benjamini-Hochberg) applies to the p-value tests
across the columns of one comparison; each column's adjusted p-value is compared with its alpha.

References: Evidently, "Data drift" algorithm; NannyML, "Univariate drift detection" (chunks,
thresholds from the reference: mean +- 3 standard deviations); scipy.stats.

>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> ref = pl.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
>>> cur = pl.DataFrame({"x": rng.normal(0.5, 1, size=5000), "c": rng.choice(["a", "b", "z"], 5000)})
>>> report = compare(ref, cur)
>>> report
<DriftReport dataset drift: 2 of 2 columns drifted (share 1.00 >= 0.50); 1 quality issue>
>>> report["c"].details["unseen"]
{'z': 1606}
"""

from __future__ import annotations

from .charts import distribution_chart, distribution_charts, score_chart
from .chunks import chunked
from .columns import SMALL_SAMPLE
from .comparison import compare
from .concept import ConceptDriftResult, Detection, KSResult, detect_concept_drift
from .detectors import DDM, DETECTORS, DetectorRun, DetectorState, PageHinkley
from .features import (
    DEFAULT_SAMPLE_ROWS,
    DriftCheck,
    StoredReference,
    check,
    check_data,
    feature_columns,
    get_reference,
    history,
    list_references,
    over_time,
    parse_window,
    set_reference,
)
from .prepared import FEW_VALUES
from .quality import quality_checks
from .report import ColumnDrift, DriftReport, QualityIssue
from .sketch import ReferenceSketch
from .stattests import PSI_EPSILON, TESTS, psi

__all__ = [
    # data drift (pure)
    "FEW_VALUES",
    "PSI_EPSILON",
    "SMALL_SAMPLE",
    "TESTS",
    "ColumnDrift",
    "DriftReport",
    "QualityIssue",
    "ReferenceSketch",
    "chunked",
    "compare",
    "psi",
    "quality_checks",
    # feature drift on the workspace
    "DEFAULT_SAMPLE_ROWS",
    "DriftCheck",
    "StoredReference",
    "check",
    "check_data",
    "distribution_chart",
    "distribution_charts",
    "feature_columns",
    "get_reference",
    "history",
    "list_references",
    "over_time",
    "parse_window",
    "score_chart",
    "set_reference",
    # concept drift
    "DDM",
    "DETECTORS",
    "ConceptDriftResult",
    "Detection",
    "DetectorRun",
    "DetectorState",
    "KSResult",
    "PageHinkley",
    "detect_concept_drift",
]
