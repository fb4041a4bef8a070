"""Shadow mode: two versions scored the same requests; a paired comparison of their
correctness (exact McNemar and a paired bootstrap), from a frame or from the prediction log.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import stats as S
from ..errors import ValidationError
from ..version import Version

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ShadowResult", "shadow_compare", "shadow_from_log"]


@dataclasses.dataclass(frozen=True)
class ShadowResult:
    """Two versions on the same requests: paired comparison of their correctness."""

    pairs: int
    accuracy_a: float
    accuracy_b: float
    table: list[list[int]]
    mcnemar: S.TestResult
    bootstrap: S.Estimate
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "accuracy_a": self.accuracy_a, "accuracy_b": self.accuracy_b, "table": self.table,
                "mcnemar": self.mcnemar.to_dict(), "bootstrap": self.bootstrap.to_dict(), "agreement": self.agreement}


def shadow_compare(frame: Any, *, a: str = "prediction_a", b: str = "prediction_b", actual: str = "actual",
                   confidence: float = 0.95, seed: int = 0) -> ShadowResult:
    """Paired comparison of two models that scored the same requests (shadow mode): exact
    McNemar on the discordant pairs and a paired bootstrap interval of the accuracy
    difference ``b - a``. Rows without a label are left out.

    >>> import polars as pl
    >>> f = pl.DataFrame({"prediction_a": [1, 0, 1, 1, 0, 1] * 20, "prediction_b": [1, 0, 0, 1, 0, 1] * 20,
    ...                   "actual": [1, 0, 0, 1, 1, 1] * 20})
    >>> r = shadow_compare(f)
    >>> r.table, round(r.accuracy_b - r.accuracy_a, 4)
    ([[80, 0], [20, 20]], 0.1667)
    """
    data = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    for column in (a, b, actual):
        if column not in data.columns:
            raise ValidationError(f"column {column!r} is missing; expected {a}, {b} and {actual}")
    data = data.filter(pl.col(actual).is_not_null() & pl.col(a).is_not_null() & pl.col(b).is_not_null())
    if data.is_empty():
        raise ValidationError("no labelled pairs; expected rows where both versions and the label are known")
    ok_a = (data.get_column(a) == data.get_column(actual)).to_numpy()
    ok_b = (data.get_column(b) == data.get_column(actual)).to_numpy()
    table = S.paired_table(ok_a, ok_b)
    test = S.mcnemar_test(table, confidence=confidence)
    boot = S.paired_bootstrap_ci(ok_a.astype(float), ok_b.astype(float), confidence=confidence, seed=seed,
                                 method="percentile", n_resamples=2000)
    agreement = float((data.get_column(a) == data.get_column(b)).mean())
    return ShadowResult(data.height, float(ok_a.mean()), float(ok_b.mean()), table, test, boot, agreement)


def shadow_from_log(ws: Workspace, model: str, version_a: str, version_b: str, *, key: str = "request_id",
                    since: Any = None, until: Any = None, confidence: float = 0.95) -> ShadowResult:
    """Shadow mode on the log: the serving version ``version_a`` and the shadow ``version_b``
    both logged a prediction for each request, with the request's id in the feature column
    ``key``; rows are paired on it (the latest label of either row is the truth)."""
    from ..predictions import read_predictions

    lf = read_predictions(ws, model, since=since, until=until)
    if key not in lf.collect_schema().names():
        raise ValidationError(f"key={key!r}: expected a feature column of {model} that identifies the request")
    va, vb = str(Version.parse(version_a)), str(Version.parse(version_b))
    rows = lf.filter(pl.col("version").is_in([va, vb]) & pl.col(key).is_not_null()).select(
        key, "version", "prediction", "actual", "labeled_at").collect()

    def side(version: str, tag: str) -> pl.DataFrame:
        return rows.filter(pl.col("version") == version).unique(key, keep="last").rename(
            {"prediction": f"prediction_{tag}", "actual": f"actual_{tag}", "labeled_at": f"labeled_at_{tag}"})

    pairs = side(va, "a").join(side(vb, "b"), on=key, how="inner").with_columns(
        # the truth is the latest label of either row (a row without a label time never beats one with it)
        pl.when(pl.col("labeled_at_b").is_not_null() & (pl.col("labeled_at_a").is_null()
                | (pl.col("labeled_at_b") > pl.col("labeled_at_a"))))
        .then(pl.coalesce("actual_b", "actual_a")).otherwise(pl.coalesce("actual_a", "actual_b")).alias("actual"))
    if pairs.is_empty():
        raise ValidationError(f"no request of {model} was logged by both {va} and {vb} (paired on {key!r})")
    return shadow_compare(pairs, confidence=confidence)
