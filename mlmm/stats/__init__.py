"""Statistics for model comparisons: pure, exact, checked.

Every function here is a pure function of counts or arrays: no I/O, no globals, deterministic
(the bootstrap takes a ``seed``). Results are small frozen dataclasses with ``to_dict()``
(JSON-safe: infinite or undefined numbers become ``None``) and a ``repr`` for notebooks.
Bad input raises :class:`mlmm.errors.ValidationError` naming the argument, its value and what
was expected.

Conventions
-----------
* Group ``a`` is the control (the current version), group ``b`` the treatment (the candidate).
  Every difference is ``b - a``, every ratio ``b / a``.
* ``alternative`` is ``"two-sided"``, ``"greater"`` (``b`` larger) or ``"less"`` (``b`` smaller),
  as in scipy. One-sided tests report one-sided intervals (the other bound is the bound of the
  parameter space), so that the interval and the test agree.
* ``confidence`` is the level of the interval; a result's ``significant`` field is the test's
  decision at ``alpha = 1 - confidence``.

======================================  ==================  ========================================
family                                  module              functions
======================================  ==================  ========================================
proportions and tables                  ``proportions``     :func:`wilson_interval`,
                                                            :func:`proportion_interval`,
                                                            :func:`two_proportion_test`,
                                                            :func:`chi_square_test`,
                                                            :func:`fisher_exact_test`,
                                                            :func:`table_from_counts`
paired (shadow traffic, same requests)  ``proportions``     :func:`paired_table`, :func:`mcnemar_test`
                                        ``means``           :func:`paired_t_test`
                                        ``bootstrap``       :func:`paired_bootstrap_ci`
means and distributions                 ``means``           :func:`t_test`, :func:`mann_whitney_test`
                                        ``bootstrap``       :func:`bootstrap_ci`,
                                                            :func:`bootstrap_difference`
effect sizes                            ``effect_sizes``    :func:`relative_lift`, :func:`cohens_h`,
                                                            :func:`cohens_d`, :func:`odds_ratio`,
                                                            :func:`risk_ratio`
planning                                ``power``           :func:`proportion_power`,
                                                            :func:`mean_power`,
                                                            :func:`required_sample_size`,
                                                            :func:`days_to_significance`
sequential (safe under peeking)         ``sequential``      :func:`group_sequential_bounds`,
                                                            :func:`boundary_crossing_probability`,
                                                            :func:`always_valid_test`
guardrails                              ``srm``             :func:`sample_ratio_mismatch`
                                        ``multiple``        :func:`adjust_p_values`
Bayesian                                ``bayesian``        :func:`chance_to_beat_control`
======================================  ==================  ========================================

Every public name is re-exported here: ``mlmm.stats.two_proportion_test`` is
``mlmm.stats.proportions.two_proportion_test``. The shared result classes are in ``results``
(:class:`Estimate`, :class:`TestResult`, :class:`ProportionTestResult`); the others live beside
the functions that return them.

Which sequential method the A/B service uses
--------------------------------------------
Looking at a fixed-sample p-value every day and stopping at the first ``p < 0.05`` inflates the
false-positive rate several-fold. mlmm offers two remedies: when the test plan fixes the number
of looks (a weekly review of a four-week test), :func:`group_sequential_bounds` gives the z
thresholds for each look (Lan-DeMets O'Brien-Fleming spending by default: almost no alpha is
spent early, so the final look keeps nearly the fixed-sample threshold). For dashboards and
scheduled reports that may look at any time, :func:`always_valid_test` (the mixture SPRT of
Johari et al.) gives p-values and confidence sequences valid at every look. The A/B service's
automatic continue/stop decision uses :func:`always_valid_test`, because scheduled reports
look at the data an unplanned number of times; a config that declares planned looks is
evaluated against :func:`group_sequential_bounds`.
"""

from __future__ import annotations

from ._common import ALTERNATIVES
from .bayesian import BayesianResult, chance_to_beat_control
from .bootstrap import bootstrap_ci, bootstrap_difference, paired_bootstrap_ci
from .effect_sizes import cohens_d, cohens_h, odds_ratio, relative_lift, risk_ratio
from .means import mann_whitney_test, paired_t_test, t_test
from .multiple import MultipleTestingResult, adjust_p_values
from .power import (
    PowerResult,
    TestDuration,
    days_to_significance,
    mean_power,
    proportion_power,
    required_sample_size,
)
from .proportions import (
    chi_square_test,
    fisher_exact_test,
    mcnemar_test,
    paired_table,
    proportion_interval,
    table_from_counts,
    two_proportion_test,
    wilson_interval,
)
from .results import Estimate, ProportionTestResult, TestResult
from .sequential import (
    AlwaysValidResult,
    SequentialBounds,
    always_valid_test,
    boundary_crossing_probability,
    group_sequential_bounds,
)
from .srm import SRMResult, sample_ratio_mismatch

__all__ = [
    "ALTERNATIVES",
    "Estimate",
    "ProportionTestResult",
    "TestResult",
    "PowerResult",
    "TestDuration",
    "SequentialBounds",
    "AlwaysValidResult",
    "SRMResult",
    "MultipleTestingResult",
    "BayesianResult",
    "wilson_interval",
    "proportion_interval",
    "two_proportion_test",
    "table_from_counts",
    "chi_square_test",
    "fisher_exact_test",
    "t_test",
    "mann_whitney_test",
    "bootstrap_ci",
    "bootstrap_difference",
    "paired_table",
    "mcnemar_test",
    "paired_t_test",
    "paired_bootstrap_ci",
    "relative_lift",
    "cohens_h",
    "cohens_d",
    "odds_ratio",
    "risk_ratio",
    "proportion_power",
    "mean_power",
    "required_sample_size",
    "days_to_significance",
    "group_sequential_bounds",
    "boundary_crossing_probability",
    "always_valid_test",
    "sample_ratio_mismatch",
    "adjust_p_values",
    "chance_to_beat_control",
]
