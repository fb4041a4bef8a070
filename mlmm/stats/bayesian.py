"""Bayesian comparison of two proportions: chance to beat the control and expected loss (Beta posteriors)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import integrate, special
from scipy import stats as _sps

from ..errors import ValidationError
from ._common import (
    ResultBase,
    check_positive,
    check_successes,
)

__all__ = [
    "BayesianResult",
    "chance_to_beat_control",
]


@dataclasses.dataclass(frozen=True, repr=False)
class BayesianResult(ResultBase):
    """Posterior comparison of two proportions under independent Beta priors."""

    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    posterior_a: tuple[float, float]
    posterior_b: tuple[float, float]
    prior: tuple[float, float]

    def __repr__(self) -> str:
        return (f"<BayesianResult P(b > a)={self.prob_b_beats_a:.4f} loss(choose a)={self.expected_loss_a:.3g}"
                f" loss(choose b)={self.expected_loss_b:.3g}>")


def _beta_sum(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(X_b > X_a) for X ~ Beta, by Evan Miller's closed form; ``a_b`` must be an integer."""
    i = np.arange(int(a_b), dtype=float)
    log_terms = (special.betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - special.betaln(1 + i, b_b)
                 - special.betaln(a_a, b_a))
    return float(np.exp(special.logsumexp(log_terms)))


def _prob_greater(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(X_b > X_a), X_a ~ Beta(a_a, b_a), X_b ~ Beta(a_b, b_b): exact sum over the smallest integer parameter."""
    options = []
    if float(a_b).is_integer():
        options.append((a_b, lambda: _beta_sum(a_a, b_a, a_b, b_b)))
    if float(a_a).is_integer():
        options.append((a_a, lambda: 1 - _beta_sum(a_b, b_b, a_a, b_a)))
    if float(b_a).is_integer():
        options.append((b_a, lambda: _beta_sum(b_b, a_b, b_a, a_a)))
    if float(b_b).is_integer():
        options.append((b_b, lambda: 1 - _beta_sum(b_a, a_a, b_b, a_b)))
    if options:
        value = min(options, key=lambda o: o[0])[1]()
    else:  # no integer parameter: integrate density of a times survival of b
        mean = a_a / (a_a + b_a)
        value, _ = integrate.quad(
            lambda x: math.exp(_sps.beta.logpdf(x, a_a, b_a)) * float(special.betainc(a_b, b_b, x)) if 0 < x < 1 else 0.0,
            0.0, 1.0, points=[mean], limit=500, epsabs=1e-13, epsrel=1e-11,
        )
        value = 1 - value
    return min(1.0, max(0.0, value))


def chance_to_beat_control(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
) -> BayesianResult:
    """Bayesian chance that ``p_b > p_a`` and the expected loss of each choice (Beta posteriors).

    With a ``Beta(alpha0, beta0)`` prior (uniform by default) each posterior is
    ``Beta(alpha0 + successes, beta0 + failures)``. ``prob_b_beats_a`` is computed exactly
    with Evan Miller's closed form (a finite sum, over the smallest integer posterior
    parameter); ``expected_loss_b = E[max(p_a - p_b, 0)]`` is what choosing ``b`` costs on
    average if ``a`` is in fact better, and ``expected_loss_a`` the converse (Stucchio 2015);
    stop when the chosen version's loss is below a threshold of caring. Not a frequentist test:
    it has no error-rate guarantee under peeking.

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing. evanmiller.org/bayesian-ab-testing.html.
    Stucchio, C. (2015). Bayesian A/B testing at VWO (whitepaper).

    Examples
    --------
    >>> r = chance_to_beat_control(100, 1000, 120, 1000)
    >>> round(r.prob_b_beats_a, 4), round(r.expected_loss_b, 5), round(r.expected_loss_a, 5)
    (0.9232, 0.00048, 0.02044)
    """
    s_a, n_a = check_successes(successes_a, trials_a, "successes_a", "trials_a", min_trials=0)
    s_b, n_b = check_successes(successes_b, trials_b, "successes_b", "trials_b", min_trials=0)
    if not (isinstance(prior, (tuple, list)) and len(prior) == 2):
        raise ValidationError(f"prior={prior!r}: expected (alpha0, beta0), two numbers > 0")
    a0, b0 = (check_positive(v, "prior") for v in prior)
    a_a, b_a = a0 + s_a, b0 + n_a - s_a
    a_b, b_b = a0 + s_b, b0 + n_b - s_b
    m_a, m_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    prob = _prob_greater(a_a, b_a, a_b, b_b)
    loss_b = m_a * _prob_greater(a_b, b_b, a_a + 1, b_a) - m_b * _prob_greater(a_b + 1, b_b, a_a, b_a)
    loss_a = m_b * _prob_greater(a_a, b_a, a_b + 1, b_b) - m_a * _prob_greater(a_a + 1, b_a, a_b, b_b)
    return BayesianResult(
        prob_b_beats_a=prob, expected_loss_a=max(0.0, loss_a), expected_loss_b=max(0.0, loss_b),
        posterior_a=(a_a, b_a), posterior_b=(a_b, b_b), prior=(a0, b0),
    )
