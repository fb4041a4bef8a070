"""Grid search on a Dask cluster (issue 10 §3): the same table as one process and as the local
process pool, whether the cluster is given as an executor, a Client or a scheduler address.

A ``LocalCluster`` of two single-threaded worker processes on 127.0.0.1 stands in for a real one.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import shutil

import pytest

distributed = pytest.importorskip("dask.distributed", reason="the Dask executor is an optional extra: pip install 'mlmm[dask]'")

import mlmm  # noqa: E402
from mlmm import tuning as T  # noqa: E402
from mlmm.errors import ValidationError  # noqa: E402

END = "2026-11-01T00:00:00Z"
GRID = {"a": [0, 1, 2, 3, 4], "b": ["x", "y"], "c": [0.5, 1.5]}


def _evaluate(params: dict, *, noise: float) -> dict:
    """Deterministic, picklable by reference (workers import this module), with ties to rank."""
    score = -((params["a"] - 2) ** 2) + (1.0 if params["b"] == "y" else 0.0) + noise * params["c"]
    return {"score": score, "a_squared": params["a"] ** 2, "pid": os.getpid()}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_a_dask_cluster_gives_the_table_of_one_process_and_of_the_process_pool(client):
    evaluate = functools.partial(_evaluate, noise=0.25)
    one = T.grid_search(evaluate, GRID, progress=False)
    pool = T.grid_search(evaluate, GRID, n_jobs=2, progress=False)
    on_dask = T.grid_search(evaluate, GRID, executor=client.get_executor(), progress=False)
    assert one.height == 20 and one.get_column("pid").unique().to_list() == [os.getpid()]
    assert os.getpid() not in on_dask.get_column("pid").to_list()  # the points ran in the worker processes
    columns = [c for c in one.columns if c not in ("seconds", "pid")]
    assert on_dask.select(columns).equals(one.select(columns))
    assert pool.select(columns).equals(one.select(columns))
    # a Client, a scheduler address and a random search: the same again
    assert T.grid_search(evaluate, GRID, executor=client, progress=False).select(columns).equals(one.select(columns))
    by_address = T.grid_search(evaluate, GRID, scheduler=client.scheduler.address, random=7, seed=3, progress=False)
    assert by_address.select(columns).equals(T.grid_search(evaluate, GRID, random=7, seed=3, progress=False).select(columns))
    # any concurrent.futures executor works the same way
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        assert T.grid_search(evaluate, GRID, executor=threads, progress=False).select(columns).equals(one.select(columns))


def test_the_detector_search_runs_on_the_cluster_with_the_same_result(client, tmp_path):
    shutil.copytree(os.environ["MLMM_HOME"], tmp_path / "ws")
    ws = mlmm.open_workspace(tmp_path / "ws")
    try:
        kw = {"grid": {"window_size": [50, 100], "log": [False, True]}, "tune_days": 10, "holdout_days": 6, "until": END}
        local = T.grid_search_detector(ws, "queue-anomaly", **kw)
        remote = T.grid_search_detector(ws, "queue-anomaly", executor=client.get_executor(), **kw)
        assert remote.table.drop("seconds").equals(local.table.drop("seconds"))
        assert (remote.best, remote.current, remote.improvement) == (local.best, local.current, local.improvement)
    finally:
        ws.close()


def test_cluster_arguments_are_checked(client):
    evaluate = functools.partial(_evaluate, noise=0.0)
    with pytest.raises(ValidationError, match="executor=.* and scheduler='tcp://x:1': expected one of them"):
        T.grid_search(evaluate, GRID, executor=client, scheduler="tcp://x:1")
    with pytest.raises(ValidationError, match="n_jobs=2 with an executor or scheduler: expected n_jobs=1"):
        T.grid_search(evaluate, GRID, executor=client, n_jobs=2)
    with pytest.raises(ValidationError, match="executor='dask': expected a concurrent.futures.Executor-like object"):
        T.grid_search(evaluate, GRID, executor="dask")
    with pytest.raises(ValidationError, match="scheduler=' ': expected the address of a Dask scheduler"):
        T.grid_search(evaluate, GRID, scheduler=" ")
    # a failing point fails the search with its own error, wherever it ran
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        T.grid_search(_fails, {"a": [1, 0]}, executor=client, progress=False)


def _fails(params: dict) -> dict:
    return {"score": 1 / params["a"]}
