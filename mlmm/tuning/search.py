"""Hyperparameter search: grid or random search of a parameter grid, in this process, a process
pool or on a Dask cluster, and the time-ordered split that validates on later rows.

References
----------
Bergstra, J. & Bengio, Y. (2012). Random search for hyper-parameter optimization. JMLR 13, 281-305.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import itertools
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ValidationError
from ._common import check_number

__all__ = ["grid_search", "parameter_grid", "time_split"]

log = logging.getLogger("mlmm")


def _grid_axes(grid: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValidationError(f"grid={grid!r}: expected a non-empty dict of parameter name -> list of values")
    names, axes = [], []
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"grid key {name!r}: expected a parameter name (a non-empty string)")
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
            raise ValidationError(f"grid[{name!r}]={values!r}: expected a list of values")
        items = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not items:
            raise ValidationError(f"grid[{name!r}]=[]: expected at least one value")
        if name in ("score", "rank", "point", "seconds"):
            raise ValidationError(f"grid key {name!r}: reserved for the result table; rename the parameter")
        names.append(name)
        axes.append(items)
    return names, axes


def _decode(index: int, names: list[str], axes: list[list[Any]]) -> dict[str, Any]:
    """The ``index``-th point of the product, last parameter varying fastest (as itertools.product)."""
    params = {}
    for name, values in zip(reversed(names), reversed(axes), strict=True):
        index, r = divmod(index, len(values))
        params[name] = values[r]
    return {name: params[name] for name in names}


def _grid_points(grid: Mapping[str, Sequence[Any]], random: int | None, seed: int | None
                 ) -> list[tuple[int, dict[str, Any]]]:
    """``(index in grid order, params)`` of the full grid or of a seeded sample of it."""
    names, axes = _grid_axes(grid)
    total = math.prod(len(a) for a in axes)
    if random is None:
        return [(i, dict(zip(names, combo, strict=True))) for i, combo in enumerate(itertools.product(*axes))]
    if isinstance(random, bool) or not isinstance(random, (int, np.integer)) or random < 1:
        raise ValidationError(f"random={random!r}: expected a budget, an integer >= 1")
    k = min(int(random), total)
    rng = np.random.default_rng(seed)
    if total <= 2**62:
        picked = [int(i) for i in np.sort(rng.choice(total, size=k, replace=False))]
    else:
        chosen: set[int] = set()  # astronomically large grids: rejection sampling of Python ints
        while len(chosen) < k:
            chosen.add(int(rng.integers(0, 2**62)) * total // 2**62)
        picked = sorted(chosen)
    return [(i, _decode(i, names, axes)) for i in picked]


def parameter_grid(grid: Mapping[str, Sequence[Any]], *, random: int | None = None, seed: int | None = 0
                   ) -> list[dict[str, Any]]:
    """The points of a parameter grid, in a fixed order (or a seeded random sample of them).

    Order: the cartesian product in the dict's key order, the last parameter varying fastest
    (``itertools.product``). ``random=k`` samples ``k`` distinct points without replacement
    (seeded; never builds the full product, so huge grids are fine) and keeps them in grid order.

    >>> parameter_grid({"window_size": range(50, 151, 50), "min_cluster_size": [2, 3]})[:3]
    [{'window_size': 50, 'min_cluster_size': 2}, {'window_size': 50, 'min_cluster_size': 3}, {'window_size': 100, 'min_cluster_size': 2}]
    >>> len(parameter_grid({"a": range(1000), "b": range(1000)}, random=5, seed=1))
    5
    """
    return [params for _, params in _grid_points(grid, random, seed)]


def _run_point(evaluate: Callable[[dict[str, Any]], Mapping[str, Any]], params: dict[str, Any]
               ) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    out = evaluate(dict(params))
    return (dict(out) if isinstance(out, Mapping) else out), time.perf_counter() - started


class _Progress:
    def __init__(self, progress: bool | Callable[[int, int], None], total: int) -> None:
        self.total = total
        self.callback = progress if callable(progress) else None
        self.stderr = progress is True
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
        elif self.stderr:
            sys.stderr.write(f"\rgrid search: {self.done}/{self.total}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _check_output(out: Any, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(out, dict) or "score" not in out:
        raise ValidationError(f"evaluate({params!r}) returned {out!r}: expected a dict with a 'score'")
    score = out["score"]
    ok = isinstance(score, (int, float, np.integer, np.floating)) and not isinstance(score, (bool, np.bool_))
    if not ok or not math.isfinite(float(score)):
        raise ValidationError(f"evaluate({params!r}) returned score={score!r}: expected a finite number")
    clash = [k for k in out if k in params or k in ("rank", "point", "seconds")]
    if clash:
        raise ValidationError(f"evaluate({params!r}) returned keys {clash}: they clash with parameters or result columns")
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}


def grid_search(
    evaluate: Callable[[dict[str, Any]], Mapping[str, Any]],
    grid: Mapping[str, Sequence[Any]],
    *,
    n_jobs: int = 1,
    executor: Any = None,
    scheduler: str | None = None,
    random: int | None = None,
    seed: int | None = 0,
    progress: bool | Callable[[int, int], None] = True,
    maximize: bool = True,
) -> pl.DataFrame:
    """Score every point of a parameter grid (or a random sample of it) and rank them.

    ``evaluate(params) -> dict`` gets one point as a dict and returns at least ``"score"`` (higher
    is better unless ``maximize=False``) plus any other numbers to keep (``"f1"``, ``"recall"``,
    ...). To avoid leakage it should train on the past and score a later window
    (:func:`time_split`). Points are evaluated in grid order (:func:`parameter_grid`).

    Parallelism: ``n_jobs > 1`` runs points in a ``concurrent.futures.ProcessPoolExecutor`` with the
    ``"spawn"`` start method (safe with the threads of polars, DuckDB and BLAS, unlike ``fork``;
    each worker starts a fresh interpreter, about a second). ``evaluate`` must therefore be
    picklable: a function defined at the top level of an importable module, or a
    ``functools.partial`` of one (not a lambda, nor a function defined in a notebook).
    ``n_jobs=-1`` uses every CPU. Results are collected by point, so the table is identical for any
    ``n_jobs`` as long as ``evaluate`` is deterministic (only ``seconds`` differs).

    On a cluster: ``executor`` runs the points on any ``concurrent.futures.Executor``-like object
    (``submit(fn, *args)`` returning a ``concurrent.futures.Future``), for instance a Dask cluster's
    ``dask.distributed.Client(...).get_executor()``; a ``Client`` itself is accepted too. It is
    used, not shut down. ``scheduler="tcp://host:8786"`` connects a ``dask.distributed.Client``
    for the call and closes it afterwards (``pip install 'mlmm[dask]'``). On Dask, ``evaluate`` is
    scattered once (``Client.scatter``), so the data it carries reaches each worker once rather
    than with every point; the workers need mlmm (and whatever ``evaluate`` imports) installed.
    The table is the same as with ``n_jobs=1`` or the process pool; leave ``n_jobs`` at 1.

    Parameters
    ----------
    grid : parameter name -> list of values (any iterable: ``range(50, 151, 25)``, numpy arrays).
    random : a budget: evaluate this many points sampled without replacement (seeded), the random
        search of Bergstra & Bengio (2012); ``None`` evaluates the full grid.
    progress : ``True`` writes ``grid search: k/N`` to stderr; a callable ``f(done, total)`` is
        called instead (for a rich progress bar); ``False`` is silent.

    Returns
    -------
    polars.DataFrame
        ``rank, point, <params...>, score, <other outputs...>, seconds``, best first. ``rank`` is
        1, 2, ...; equal scores are ranked in grid order. ``point`` is the index in the full grid's
        order (also for a random search).

    Examples
    --------
    >>> def evaluate(p):
    ...     return {"score": -(p["x"] - 2) ** 2 - p["y"], "x2": p["x"] ** 2}
    >>> grid_search(evaluate, {"x": [1, 2, 3], "y": [0, 1]}, progress=False).drop("seconds")
    shape: (6, 6)
    ┌──────┬───────┬─────┬─────┬───────┬─────┐
    │ rank ┆ point ┆ x   ┆ y   ┆ score ┆ x2  │
    │ ---  ┆ ---   ┆ --- ┆ --- ┆ ---   ┆ --- │
    │ u32  ┆ i64   ┆ i64 ┆ i64 ┆ i64   ┆ i64 │
    ╞══════╪═══════╪═════╪═════╪═══════╪═════╡
    │ 1    ┆ 2     ┆ 2   ┆ 0   ┆ 0     ┆ 4   │
    │ 2    ┆ 0     ┆ 1   ┆ 0   ┆ -1    ┆ 1   │
    │ 3    ┆ 3     ┆ 2   ┆ 1   ┆ -1    ┆ 4   │
    │ 4    ┆ 4     ┆ 3   ┆ 0   ┆ -1    ┆ 9   │
    │ 5    ┆ 1     ┆ 1   ┆ 1   ┆ -2    ┆ 1   │
    │ 6    ┆ 5     ┆ 3   ┆ 1   ┆ -2    ┆ 9   │
    └──────┴───────┴─────┴─────┴───────┴─────┘
    """
    if not callable(evaluate):
        raise ValidationError(f"evaluate={evaluate!r}: expected a function params -> dict with a 'score'")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValidationError(f"n_jobs={n_jobs!r}: expected an integer >= 1 or -1 (every CPU)")
    if executor is not None and scheduler is not None:
        raise ValidationError(f"executor={executor!r} and scheduler={scheduler!r}: expected one of them")
    if (executor is not None or scheduler is not None) and n_jobs != 1:
        raise ValidationError(f"n_jobs={n_jobs!r} with an executor or scheduler: expected n_jobs=1"
                              " (the cluster decides how many points run at once)")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise ValidationError(f"executor={executor!r}: expected a concurrent.futures.Executor-like object with submit()")
    indexed = _grid_points(grid, random, seed)
    points = [params for _, params in indexed]
    names = list(points[0])
    workers = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    workers = min(workers, len(points))
    bar = _Progress(progress, len(points))
    results: list[tuple[dict[str, Any], float] | None] = [None] * len(points)
    if scheduler is not None:
        client = _dask_client(scheduler)
        try:
            _run_all(client, evaluate, points, results, bar)
        finally:
            client.close()
    elif executor is not None:
        _run_all(executor, evaluate, points, results, bar)
    elif workers <= 1:
        for i, params in enumerate(points):
            results[i] = _run_point(evaluate, params)
            bar.step()
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            _run_all(pool, evaluate, points, results, bar)
    records = []
    for (index, params), item in zip(indexed, results, strict=True):
        assert item is not None
        out = _check_output(item[0], params)
        records.append({"point": index, **params, **out, "seconds": item[1]})
    frame = _records_frame(records, names)
    order = frame.with_columns(pl.col("score").cast(pl.Float64).alias("_key")).sort(
        ["_key", "point"], descending=[maximize, False]).drop("_key")
    log.debug("grid search: %d points, best %s", len(points), order.row(0, named=True))
    return order.with_row_index("rank", offset=1)


def _dask_client(scheduler: str) -> Any:
    """A ``dask.distributed.Client`` connected to ``scheduler`` (``tcp://host:port``)."""
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValidationError(f"scheduler={scheduler!r}: expected the address of a Dask scheduler, e.g. 'tcp://host:8786'")
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ValidationError(f"scheduler={scheduler!r}: needs dask.distributed: pip install 'mlmm[dask]'") from exc
    try:
        return Client(scheduler.strip())
    except OSError as exc:
        raise ValidationError(f"scheduler={scheduler!r}: cannot connect ({exc}); expected a running Dask scheduler") from None


def _dask(executor: Any) -> tuple[Any, Any] | None:
    """(client, executor) when ``executor`` is a Dask ``Client`` or the executor of one."""
    if not type(executor).__module__.startswith("distributed"):
        return None
    if hasattr(executor, "get_executor"):  # a Client
        return executor, executor.get_executor()
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    return (client, executor) if client is not None else None


def _run_all(executor: Any, evaluate: Callable[[dict[str, Any]], Mapping[str, Any]], points: list[dict[str, Any]],
             results: list[tuple[dict[str, Any], float] | None], bar: _Progress) -> None:
    """Submit every point to ``executor`` and collect the results by point as they finish."""
    task: Any = evaluate
    dask = _dask(executor)
    if dask is not None:
        client, executor = dask
        task = client.scatter(evaluate, hash=False)  # resolved on the worker: its data travels once per worker
    futures = {executor.submit(_run_point, task, params): i for i, params in enumerate(points)}
    try:
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            bar.step()
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _records_frame(records: list[dict[str, Any]], names: list[str]) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {}
    for rec in records:
        for k in rec:
            columns.setdefault(k, [])
    data = {k: [rec.get(k) for rec in records] for k in columns}
    series = []
    for k, values in data.items():
        try:
            series.append(pl.Series(k, values, strict=True))
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            kind = "parameter" if k in names else "output"
            log.debug("grid search: %s column %r has mixed types; stored as text", kind, k)
            series.append(pl.Series(k, [None if v is None else str(v) for v in values], dtype=pl.String))
    return pl.DataFrame(series)


# ============================================================================ time-ordered validation
def _time_value(value: Any, dtype: pl.DataType, name: str) -> Any:
    if isinstance(dtype, pl.Datetime):
        from .._util import to_utc

        t = to_utc(value, name)
        return t if dtype.time_zone else t.replace(tzinfo=None)
    if dtype == pl.Date:
        if isinstance(value, str):
            try:
                return _dt.date.fromisoformat(value)
            except ValueError:
                raise ValidationError(f"{name}={value!r}: expected an ISO date") from None
        if isinstance(value, _dt.datetime):
            return value.date()
        if isinstance(value, _dt.date):
            return value
        raise ValidationError(f"{name}={value!r}: expected a date")
    return check_number(value, name)


def time_split(
    frame: pl.DataFrame,
    time_col: str,
    *,
    train_until: Any = None,
    validation_days: float | None = None,
    validation_fraction: float | None = None,
    gap_days: float = 0.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows by time: train on the past, validate on the later window (no leakage).

    Every validation row is strictly later than every training row. The cut is, by priority:

    * ``train_until``: training is ``time < train_until``; validation ``time >= train_until``
      (up to ``train_until + validation_days`` when that is given);
    * ``validation_days``: validation is the last ``validation_days`` days up to the latest time
      (``time >= max - validation_days``), training everything before;
    * ``validation_fraction`` (default 0.2): the cut is the time below which ``1 - fraction`` of
      the rows fall; rows at the cut's time go to validation, so the cut never splits a timestamp.

    ``gap_days`` drops the rows of that many days before the cut from training (an embargo for
    labels that arrive late). Rows with a null time are in neither part. Numeric time columns
    work with ``train_until`` and ``validation_fraction`` (``*_days`` need a date/datetime).

    Raises
    ------
    ValidationError
        A missing column, an empty training or validation part.

    Examples
    --------
    >>> import datetime as dt
    >>> frame = pl.DataFrame({"day": [dt.date(2026, 1, d) for d in range(1, 11)], "y": range(10)})
    >>> train, valid = time_split(frame, "day", validation_days=3)
    >>> train.height, valid.height, str(train["day"].max()), str(valid["day"].min())
    (7, 3, '2026-01-07', '2026-01-08')
    >>> train, valid = time_split(frame, "day", train_until="2026-01-05", gap_days=1)
    >>> train.height, valid.height
    (3, 6)
    """
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise ValidationError(f"frame: expected a polars DataFrame, got {type(frame).__name__}")
    if time_col not in frame.columns:
        raise ValidationError(f"time_col={time_col!r}: expected one of the columns {frame.columns}")
    dtype = frame.schema[time_col]
    temporal = isinstance(dtype, pl.Datetime) or dtype == pl.Date
    if not temporal and not dtype.is_numeric():
        raise ValidationError(f"time_col={time_col!r}: expected a date, datetime or numeric column, got {dtype}")
    if (validation_days is not None or gap_days) and not temporal:
        raise ValidationError(f"time_col={time_col!r} is {dtype}: validation_days and gap_days need a date or datetime")
    gap_days = check_number(gap_days, "gap_days", minimum=0.0)
    t = pl.col(time_col)

    def days(value: float) -> Any:
        delta = _dt.timedelta(days=value)
        return _dt.timedelta(days=math.ceil(value)) if dtype == pl.Date else delta

    if train_until is not None:
        cut = _time_value(train_until, dtype, "train_until")
        valid_mask = t >= cut
        if validation_days is not None:
            valid_mask = valid_mask & (t < cut + days(check_number(validation_days, "validation_days", minimum=0.0,
                                                                        exclusive=True)))
    elif validation_days is not None:
        latest = frame[time_col].max()
        if latest is None:
            raise ValidationError(f"time_col={time_col!r}: expected some non-null times")
        span = days(check_number(validation_days, "validation_days", minimum=0.0, exclusive=True))
        cut = latest - span + (_dt.timedelta(days=1) if dtype == pl.Date else _dt.timedelta(0))
        valid_mask = t >= cut
    else:
        fraction = 0.2 if validation_fraction is None else check_number(
            validation_fraction, "validation_fraction", minimum=0.0, exclusive=True, maximum=1.0)
        times = frame[time_col].drop_nulls().sort()
        if times.len() < 2:
            raise ValidationError(f"time_col={time_col!r}: expected at least 2 non-null times, got {times.len()}")
        cut = times[min(times.len() - 1, int(math.floor(times.len() * (1.0 - fraction))))]
        valid_mask = t >= cut
    train_end = cut - days(gap_days) if gap_days else cut
    train = frame.filter(t < train_end)
    valid = frame.filter(valid_mask)
    if train.height == 0 or valid.height == 0:
        part = "training" if train.height == 0 else "validation"
        raise ValidationError(f"time_split: the {part} part is empty (cut at {cut!r} on {time_col!r})")
    return train, valid
