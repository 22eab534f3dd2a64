"""sweep(): one plan search per (model, workload, SLO, space) on dask.distributed, each read
under every price scenario.

A price scenario maps GPU names to $/GPU-hour and replaces the catalog's price of those GPUs
in the $-metrics (objectives.add_metrics) of a search's plans after the search; the
re-evaluated plans are then ranked again. The plans re-evaluated are those chosen at catalog
prices, so under a price-dependent objective (usd_per_mtok, rate_per_dollar) a scenario ranks
only those ``top`` plans. Searches run on a LocalCluster (processes, one thread each) unless a
``client`` or a scheduler ``address`` is given; a search that raises SearchError becomes a row
with its error line. dask is imported only when a sweep runs (extra 'dask').
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import hardware_specs
import perfmodel as pm
from planner.serving import SLO
from planner.workload import Workload

from .api import full_tier, search
from .errors import SearchError
from .full import Context
from .instances import instance_table
from .objectives import OBJECTIVES, add_metrics, check_objective, rank
from .result import SHOWN, SearchResult, json_records
from .screen import WorkloadStats
from .space import SearchSpace

#: the labels that name a combination, in the order of a row's key
KEYS = ("model", "workload", "slo", "space", "prices")
#: the best plan's columns a sweep row carries
BEST = (*SHOWN, "usd_per_hour")
#: integer columns of a row (nullable: NA where the search raised or found no plan)
INTS = (
    "n_plans",
    "tp",
    "pp",
    "ep",
    "prefill_replicas",
    "decode_replicas",
    "max_num_seqs",
    "token_budget",
    "gpus",
)
CATALOG = "catalog"


@dataclass(frozen=True)
class SweepResult:
    """``rows``: one summary per combination, in combination order; ``results``: the
    SearchResult of each combination that ran, by its key (KEYS labels); ``errors``: the
    SearchError line of each that did not."""

    objective: str
    rows: list[dict]
    results: dict[tuple, SearchResult] = field(repr=False)
    errors: dict[tuple, str]
    wall_s: float
    workers: int

    def to_frame(self) -> pd.DataFrame:
        """One row per combination: its keys, n_plans, feasible, the objective's value, the
        best plan's main columns (NaN when none), top_plans (see _search_task), search_s
        (the search's seconds plus the scenario's re-evaluation, if any), the SearchError
        line (error) or why no plan meets the SLO (reason)."""
        cols = [*KEYS, "n_plans", "feasible", "objective_value", *BEST, "top_plans", "search_s"]
        frame = pd.DataFrame(self.rows, columns=[*cols, "error", "reason"])
        return frame.astype({c: "Int64" for c in INTS})

    def to_dict(self) -> dict:
        """JSON-safe: the objective, timings and the rows (inf / NaN as None)."""
        return {
            "objective": self.objective,
            "objective_column": OBJECTIVES[self.objective][0],
            "keys": list(KEYS),
            "combinations": len(self.rows),
            "errors": len(self.errors),
            "wall_s": self.wall_s,
            "workers": self.workers,
            "rows": json_records(_nulls(self.to_frame())),
        }


def sweep(
    models,
    workloads,
    slos,
    spaces=None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    objective: str = "tokens_per_gpu",
    top: int = 50,
    target_rate: float | None = None,
    calibration="default",
    engine: str | None = "vllm-v1",
    client=None,
    address: str | None = None,
    workers: int | None = None,
    processes: bool = True,
    jobs: int = 1,
    keep_plans: bool = True,
    rescreen: bool = True,
    progress: Callable[[int, int, tuple], None] | None = None,
) -> SweepResult:
    """search() for every models x workloads x slos x spaces, on dask: ``client``, else a
    Client of the scheduler at ``address``, else a LocalCluster of ``workers`` (default: all
    CPUs) single-thread workers (``processes`` False: threads of this process). Each axis is a
    list (labelled by name) or a {label: value} dict; a space None is the default space.
    ``prices``: {scenario: {gpu: usd_per_hour}} (default {'catalog': {}}); every search is read
    under each. ``jobs``: processes per search (1: dask spreads the searches).
    ``rescreen``: when a scenario's prices change which plans the screen ranks best (under
    a price objective), run the full model on those (row 'top_plans').
    ``keep_plans`` False drops each search's screened-plan table from ``results`` (it can
    hold 10^6 rows). ``progress(done, total, key)`` follows finished searches."""
    t0 = time.perf_counter()
    check_objective(objective)
    tasks = _tasks(models, workloads, slos, spaces)
    scenarios = _scenarios(prices)
    kwargs = dict(
        objective=objective,
        top=top,
        target_rate=target_rate,
        calibration=calibration,
        engine=engine,
        jobs=jobs,
    )
    work = {key: _Job(args, scenarios, kwargs, keep_plans, rescreen) for key, args in tasks}
    outputs, n_workers = _run_on_dask(work, client, address, workers, processes, progress)
    rows, results, errors = [], {}, {}
    for key, _ in tasks:
        for scenario, (res, row) in outputs[key].items():
            k = (*key, scenario)
            rows.append(dict(zip(KEYS, k)) | row)
            if res is None:
                errors[k] = row["error"]
            else:
                results[k] = res
    return SweepResult(objective, rows, results, errors, time.perf_counter() - t0, n_workers)


def _run_on_dask(jobs: dict, client, address, workers, processes, progress):
    """{key: outputs of _search_task} for every {key: _Job}, and the number of dask workers."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError(
            "sweep needs dask.distributed; install it with pip install 'capplan[dask]'"
        ) from exc
    owned = []
    if client is None and address is not None:
        client = Client(address)
        owned.append(client)
    elif client is None:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None
        )
        client = Client(cluster)
        owned += [client, cluster]
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        keys = list(jobs)
        futures = client.map(_search_task, list(jobs.values()), pure=False)
        where = {f.key: key for f, key in zip(futures, keys)}
        outputs = {}
        for done, fut in enumerate(as_completed(futures), 1):
            key = where[fut.key]
            try:
                outputs[key] = fut.result()
            except Exception as exc:  # not a SearchError (those are rows): stop the sweep
                client.cancel(futures)
                raise RuntimeError(f"sweep: the search of {key} failed: {exc}") from exc
            if progress:
                progress(done, len(futures), key)
        return outputs, n_workers
    finally:
        for obj in owned:
            obj.close()


@dataclass(frozen=True)
class _Job:
    """One search's inputs, sent to a worker as one object (dask leaves it unparsed)."""

    args: tuple
    scenarios: dict
    kwargs: dict
    keep_plans: bool
    rescreen: bool


def _search_task(job: _Job) -> dict:
    """On a worker: one search, read under each price scenario -> {scenario: (SearchResult or
    None, row)}. A SearchError gives (None, a row holding its line) for every scenario.
    row['top_plans']: 'search' when the search re-evaluated every plan its screen ranks in
    the top at the scenario's prices; else 're-evaluated' (the full model also ran on those,
    as a search at these prices would) or 'stale' (rescreen off)."""
    model, workload, slo, space = job.args
    scenarios, kwargs, keep_plans = job.scenarios, job.kwargs, job.keep_plans
    t0 = time.perf_counter()
    try:
        res = search(model, workload, slo, space, **kwargs)
    except SearchError as exc:
        row = {"n_plans": 0, "feasible": False, "search_s": time.perf_counter() - t0}
        return {s: (None, row | {"error": str(exc)}) for s in scenarios}
    seconds = time.perf_counter() - t0
    w = workload if isinstance(workload, Workload) else Workload.bundled(str(workload))
    mean_out = WorkloadStats.of(w, 0.5).mean_out
    out = {}
    for name, table in scenarios.items():
        t1 = time.perf_counter()
        priced = reprice(res, table, mean_out)
        source = "search"
        if not top_reused(priced, kwargs["top"]):
            source = "re-evaluated" if job.rescreen else "stale"
            if job.rescreen:
                n, jobs = kwargs["top"], kwargs["jobs"]
                priced = _reevaluate(priced, w, slo, space, table, mean_out, n, jobs)
        spent = seconds + time.perf_counter() - t1
        row = _summary(priced) | {"top_plans": source, "search_s": spent}
        if not keep_plans:
            priced = dataclasses.replace(priced, plans=priced.plans.iloc[:0])
        out[name] = (priced, row)
    return out


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as Python objects with None for NA / NaN (what json_records leaves alone)."""
    return frame.astype(object).where(frame.notna(), None)


def reprice(res: SearchResult, prices: Mapping[str, float], mean_out: float) -> SearchResult:
    """``res`` with the $/GPU-hour of the GPUs in ``prices`` replacing the catalog's in every
    plan's metrics (add_metrics), the re-evaluated plans ranked again; ``mean_out`` is the
    workload's mean output tokens. Unchanged when ``prices`` is empty."""
    if not prices:
        return res
    tab = instance_table(res.instances)

    def metrics(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if frame.empty:
            return frame
        k = frame["instance"].to_numpy(int)
        price = [prices.get(g, p) for g, p in zip(tab["gpu"][k], tab["price"][k])]
        return add_metrics(frame, mean_out, np.array(price), tab["tdp"][k], res.target_rate)

    top = metrics(res.top)
    ranked = rank(top, res.objective)
    top = pd.concat([ranked, top.drop(ranked.index)]).reset_index(drop=True)
    return dataclasses.replace(res, plans=metrics(res.plans), top=top)


#: the columns that identify a screened plan
PLAN_ID = (
    "mode",
    "instance",
    "prefill_instance",
    "max_num_seqs",
    "token_budget",
    "prefill_replicas",
    "decode_replicas",
)


def _ids(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame[list(PLAN_ID)].itertuples(index=False)]


def top_reused(res: SearchResult, top: int) -> bool:
    """Whether every plan among the ``top`` its screen ranks best at its current prices
    (after reprice) was re-evaluated: False means a search at these prices would re-evaluate
    other plans, and its best may differ."""
    return set(_ids(rank(res.plans, res.objective).head(top))) <= set(_ids(res.top))


def _reevaluate(priced, w, slo, space, prices, mean_out: float, top: int, jobs: int):
    """``priced`` (a repriced search) with the full model's figures of the plans its screen
    ranks in the ``top`` at ``prices`` added to those it has (a search at these prices would
    re-evaluate them; the search's own stay, so the best is never worse)."""
    order = rank(priced.plans, priced.objective)
    have = set(_ids(priced.top))
    new = order.head(top)
    new = new[[i not in have for i in _ids(new)]]
    ctx = Context(priced.instances, w, slo, space.memory_utilization)
    st = WorkloadStats.of(w, slo.percentile or 0.5)
    added = full_tier(ctx, new, st, priced.target_rate, priced.objective, jobs, None)
    top_ = pd.concat([priced.top, added], ignore_index=True)
    position = {i: k + 1 for k, i in enumerate(_ids(order))}
    top_["screen_rank"] = [position.get(i, 0) for i in _ids(top_)]
    return reprice(dataclasses.replace(priced, top=top_), prices, mean_out)


def _summary(res: SearchResult) -> dict:
    """A sweep row's figures of one search: counts, the best plan's columns, or the reason."""
    row = {"n_plans": res.n_plans, "feasible": res.feasible, "error": None}
    if not res.feasible:
        return row | {"reason": res.infeasible_reason()}
    best = res.best
    row["objective_value"] = best[OBJECTIVES[res.objective][0]]
    return row | {c: best[c] for c in BEST if c in best}


def _tasks(models, workloads, slos, spaces) -> list[tuple[tuple, tuple]]:
    """[(labels, (model, workload, SLO, SearchSpace))] for the product of the axes, each
    validated here so that a bad name fails before any cluster starts."""
    ms = _axis("models", models, _model_name, _labelled)
    ws = _axis("workloads", workloads, lambda w: _workload(w).name, _labelled)
    ss = _axis("slos", slos, lambda s: _slo_label(_slo(s)), _slo_map)
    spaces = [None] if spaces is None else spaces
    ps = _axis("spaces", spaces, lambda s: _space_label(_space(s)), _space_map)
    return [
        ((m, w, s, p), (mv, wv, _slo(sv), _space(pv)))
        for m, mv in ms
        for w, wv in ws
        for s, sv in ss
        for p, pv in ps
    ]


def _axis(name: str, values, label, is_map) -> list[tuple[str, object]]:
    """[(label, value)] of one axis: a {label: value} dict (``is_map``), a list, or one value."""
    if is_map(values):
        pairs = [(str(k), v) for k, v in values.items()]
        for _, v in pairs:
            label(v)  # validate here, before any cluster starts
    else:
        single = isinstance(values, str | SLO | SearchSpace | Workload | Mapping)
        items = [values] if single or not hasattr(values, "__iter__") else list(values)
        pairs = [(label(v), v) for v in items]
    if not pairs:
        raise ValueError(f"sweep: {name} is empty; give at least one")
    seen: dict[str, int] = {}
    out = []
    for lab, v in pairs:
        seen[lab] = seen.get(lab, 0) + 1
        out.append((lab if seen[lab] == 1 else f"{lab}#{seen[lab]}", v))
    return out


def _labelled(values) -> bool:
    """Whether a models / workloads axis is given as {label: value}."""
    return isinstance(values, Mapping)


def _slo_map(values) -> bool:
    """Whether ``values`` is {label: SLO or dict} rather than one SLO given as a dict."""
    return isinstance(values, Mapping) and all(
        isinstance(v, SLO | Mapping) for v in values.values()
    )


def _space_map(values) -> bool:
    """Whether ``values`` is {label: space} rather than one space given as a dict."""
    return isinstance(values, Mapping) and not set(values) <= set(SearchSpace.model_fields)


def _model_name(m) -> str:
    return pm.get_model(m).name if isinstance(m, str) else m.name


def _workload(w) -> Workload:
    return w if isinstance(w, Workload) else Workload.bundled(str(w))


def _slo(s) -> SLO:
    return s if isinstance(s, SLO) else SLO(**s)


def _space(s) -> SearchSpace:
    return s if isinstance(s, SearchSpace) else SearchSpace(**(s or {}))


def _slo_label(s: SLO) -> str:
    """'ttft=1000ms,tpot=50ms@p90'."""
    parts = ",".join(f"{k}={v * 1e3:g}ms" for k, v in s.targets().items())
    return f"{parts}@{s.stat}"


def _space_label(s: SearchSpace) -> str:
    """The space's GPU list ('all-gpus' when it covers the catalog)."""
    return "+".join(s.gpus) if s.gpus is not None else "all-gpus"


def _scenarios(prices) -> dict[str, dict[str, float]]:
    """{scenario: {canonical gpu name: usd_per_hour}}, validated (known GPU, price > 0)."""
    if prices is None:
        return {CATALOG: {}}
    if not isinstance(prices, Mapping) or not prices:
        raise ValueError(
            "sweep: prices must be a non-empty {scenario: {gpu: usd_per_hour}} dict, "
            "e.g. {'spot': {'H100-SXM': 1.5}}"
        )
    out = {}
    for name, table in prices.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"sweep: prices[{name!r}] must be a {{gpu: usd_per_hour}} dict")
        out[str(name)] = {}
        for gpu, usd in table.items():
            if not isinstance(usd, int | float) or not math.isfinite(usd) or usd <= 0:
                raise ValueError(f"sweep: prices[{name!r}][{gpu!r}] = {usd!r}; give $/GPU-hour > 0")
            out[str(name)][hardware_specs.get(gpu).name] = float(usd)
    return out
