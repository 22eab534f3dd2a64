"""sweep(): plan searches over models x workloads x SLOs x spaces x prices on dask.distributed.

One sweep runs on a real LocalCluster of 2 worker processes (module fixture, closed before
the other tests run); every claim below is checked against direct search() calls.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys

import pytest

from planner.search import SearchResult, SweepResult, search, sweep
from planner.search.screen import WorkloadStats
from planner.search.sweep import _Job, _scenarios, _search_task, _tasks, reprice, top_reused
from planner.workload import Workload

dd = pytest.importorskip("dask.distributed")

A100 = "A100-SXM4-80GB"
A100_USD = 1.79
SPACE = dict(
    gpus=[A100],
    tp=[1, 2],
    pp=[1],
    quant=["bf16"],
    max_num_seqs=[32, 128],
    token_budget=[1024, 4096],
    modes=["aggregated"],
)
SLO = {"ttft_s": 1.0, "tpot_s": 0.05}
PRICES = {"catalog": {}, "a100x2": {A100: 2 * A100_USD}}
TOP = 3


@pytest.fixture(scope="module")
def swept() -> SweepResult:
    """llama-3.1-8b (fits) and llama-3.1-405b (fits no plan) x chat, code on 2 processes."""
    before = set(mp.active_children())
    res = sweep(
        ["llama-3.1-8b", "llama-3.1-405b"],
        ["chat", "code"],
        [SLO],
        [SPACE],
        prices=PRICES,
        top=TOP,
        workers=2,
    )
    assert set(mp.active_children()) <= before, "the sweep left worker processes behind"
    with pytest.raises(ValueError):
        dd.default_client()  # no client left open
    return res


def rows(res: SweepResult, **where):
    frame = res.to_frame()
    for k, v in where.items():
        frame = frame[frame[k] == v]
    return frame


def test_one_row_per_combination(swept):
    frame = swept.to_frame()
    assert len(frame) == 2 * 2 * 1 * 1 * 2
    assert list(frame.columns[:5]) == ["model", "workload", "slo", "space", "prices"]
    assert set(frame["slo"]) == {"ttft=1000ms,tpot=50ms@p90"} and set(frame["space"]) == {A100}
    assert swept.workers == 2 and swept.objective == "tokens_per_gpu"
    assert len(swept.results) == 4 and len(swept.errors) == 4
    assert all(isinstance(r, SearchResult) for r in swept.results.values())


@pytest.mark.parametrize("workload", ["chat", "code"])
def test_best_equals_a_direct_search(swept, workload):
    direct = search("llama-3.1-8b", workload, SLO, SPACE, top=TOP, jobs=1)
    row = rows(swept, model="llama-3.1-8b", workload=workload, prices="catalog").iloc[0]
    best = direct.best
    assert row["feasible"] and row["n_plans"] == direct.n_plans == 8
    assert row["rate_rps"] == pytest.approx(best["rate_rps"], rel=1e-9)
    assert row["objective_value"] == pytest.approx(best["tokens_per_s_per_gpu"], rel=1e-9)
    for col in ("gpu", "quant", "tp", "pp", "max_num_seqs", "token_budget", "gpus"):
        assert row[col] == best[col], col
    key = ("llama-3.1-8b", workload, row["slo"], A100, "catalog")
    assert swept.results[key].to_frame()["rate_rps"].tolist() == pytest.approx(
        direct.to_frame()["rate_rps"].tolist(), rel=1e-9
    )


def test_doubled_gpu_price_doubles_usd_per_mtok_exactly(swept):
    for workload in ("chat", "code"):
        base = rows(swept, model="llama-3.1-8b", workload=workload, prices="catalog").iloc[0]
        dbl = rows(swept, model="llama-3.1-8b", workload=workload, prices="a100x2").iloc[0]
        assert dbl["usd_per_mtok"] == 2 * base["usd_per_mtok"]
        assert dbl["usd_per_hour"] == 2 * base["usd_per_hour"] == 2 * A100_USD * base["gpus"]
        assert dbl["tokens_per_s_per_gpu"] == base["tokens_per_s_per_gpu"]
        assert dbl["rate_rps"] == base["rate_rps"]
        key = ("llama-3.1-8b", workload, base["slo"], A100)
        top0 = swept.results[(*key, "catalog")].top
        top1 = swept.results[(*key, "a100x2")].top
        assert (top1["usd_per_mtok"] == 2 * top0["usd_per_mtok"]).all()
        assert (top1["output_tokens_per_s"] == top0["output_tokens_per_s"]).all()


def test_search_error_is_a_row_and_the_rest_completes(swept):
    bad = rows(swept, model="llama-3.1-405b")
    assert len(bad) == 4
    assert bad["error"].str.startswith("no plan of the space fits llama-3.1-405b").all()
    assert not bad["feasible"].any() and (bad["n_plans"] == 0).all()
    assert bad["rate_rps"].isna().all()
    good = rows(swept, model="llama-3.1-8b")
    assert good["feasible"].all() and good["error"].isna().all()
    assert (good["top_plans"] == "search").all()  # tokens/GPU does not depend on prices
    assert all(k[0] == "llama-3.1-405b" for k in swept.errors)


def test_to_dict_is_json_safe(swept):
    d = swept.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["combinations"] == 8 and d["errors"] == 4
    assert '"tp": 1' in text or '"tp": 2' in text  # integers stay integers
    assert all(r["rate_rps"] is None for r in d["rows"] if r["error"])


def test_scheduler_address_and_labelled_axes():
    """A sweep on a running scheduler (threads here) leaves that cluster running."""
    with dd.LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        seen = []
        res = sweep(
            {"small": "llama-3.1-8b"},
            "chat",
            {"tight": SLO},
            {"a100": SPACE},
            top=1,
            address=cluster.scheduler_address,
            progress=lambda done, total, key: seen.append((done, total, key)),
        )
        assert seen == [(1, 1, ("small", "chat", "tight", "a100"))]
        assert res.to_frame()[["model", "slo", "space", "prices"]].iloc[0].tolist() == [
            "small",
            "tight",
            "a100",
            "catalog",
        ]
        with dd.Client(cluster) as c:  # still up
            assert len(c.scheduler_info()["workers"]) == 1


def test_reprice_reranks_a_price_objective():
    space = dict(SPACE, gpus=[A100, "H100-SXM"], tp=[1], max_num_seqs=[128])
    res = search("llama-3.1-8b", "chat", SLO, space, objective="usd_per_mtok", top=4, jobs=1)
    mean_out = WorkloadStats.of(Workload.bundled("chat"), 0.5).mean_out
    assert reprice(res, {}, mean_out) is res
    first = res.best["gpu"]
    other = next(g for g in space["gpus"] if g != first)
    priced = reprice(res, {first: 1000.0}, mean_out)
    assert priced.best["gpu"] == other
    assert priced.n_plans == res.n_plans == 4
    assert top_reused(res, 4) and top_reused(priced, 4)  # all 4 plans were re-evaluated
    one = search("llama-3.1-8b", "chat", SLO, space, objective="usd_per_mtok", top=1, jobs=1)
    assert top_reused(one, 1) and not top_reused(reprice(one, {first: 1000.0}, mean_out), 1)


@pytest.mark.parametrize("rescreen", [True, False])
def test_price_scenario_that_changes_the_screen_reevaluates(rescreen):
    """top=1 under $/1M tokens: pricing the best GPU out makes the screen pick a plan on the
    other GPU; the sweep runs the full model on it (or marks the row 'stale')."""
    space = dict(SPACE, gpus=[A100, "H100-SXM"], tp=[1], max_num_seqs=[128])
    every = search("llama-3.1-8b", "chat", SLO, space, objective="usd_per_mtok", top=4, jobs=1)
    first = every.best["gpu"]
    other = next(g for g in space["gpus"] if g != first)
    ((_, args),) = _tasks(["llama-3.1-8b"], ["chat"], [SLO], [space])
    kwargs = dict(
        objective="usd_per_mtok",
        top=1,
        target_rate=None,
        calibration="default",
        engine="vllm-v1",
        jobs=1,
    )
    prices = _scenarios({"catalog": {}, "dear": {first: 1000.0}})
    out = _search_task(_Job(args, prices, kwargs, True, rescreen))
    assert out["catalog"][1]["top_plans"] == "search" and out["catalog"][1]["gpu"] == first
    res, row = out["dear"]
    if not rescreen:
        assert row["top_plans"] == "stale" and row["gpu"] == first
        return
    assert row["top_plans"] == "re-evaluated" and row["gpu"] == other
    mean_out = WorkloadStats.of(Workload.bundled("chat"), 0.5).mean_out
    ref = reprice(every, {first: 1000.0}, mean_out).best  # every plan was re-evaluated
    assert row["rate_rps"] == pytest.approx(ref["rate_rps"], rel=1e-9)
    assert row["usd_per_mtok"] == pytest.approx(ref["usd_per_mtok"], rel=1e-9)
    assert top_reused(res, 1) and len(res.top) == 2  # the search's plan and the new one
    assert res.top.loc[res.top["gpu"] == other, "screen_rank"].tolist() == [1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prices={"spot": {A100: -1}}), r"prices\['spot'\]\['A100-SXM4-80GB'\]"),
        (dict(prices={"spot": {"A100-SXM9": 1.0}}), "A100"),
        (dict(objective="cheapest"), "objective"),
        (dict(models=["llama-3.1-8x"]), "llama-3.1-8b"),
        (dict(spaces=[{"tp": []}]), "tp"),
    ],
)
def test_bad_input_fails_before_any_cluster(kwargs, match):
    args = dict(models=["llama-3.1-8b"], workloads=["chat"], slos=[SLO], spaces=[SPACE])
    with pytest.raises(ValueError, match=match):
        sweep(**(args | kwargs))


def test_package_imports_without_dask():
    code = "import sys, planner.search; assert 'distributed' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
