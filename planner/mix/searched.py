"""Searched replica configurations: a GPU entry's ``search`` block runs planner.search for each
model of the plan on that GPU type (aggregated serving, chunked prefill, the model's SLO and
its traffic as the workload) and turns the first ``top`` distinct (tp, pp, quant,
max_num_seqs, token_budget) of each ranking into replica configurations, so the MILP chooses
among them (pools = GPU type x searched configuration).

Configurations are searched once, at the plan's SLO (SLO sweeps reuse them). The search's
workload keeps the requests one replica of the space can hold (the model's context and the
KV cache of the space's largest configuration); longer ones are left to other pools.
"""

from __future__ import annotations

import numpy as np

from planner.mix.capacity_serving import ServingCapacity, hardware_key
from planner.mix.errors import PlanSpecError
from planner.mix.spec import GPUSpec, ModelTraffic, PlanSpec, ReplicaConfig
from planner.mix.traffic import model_buckets


def resolve_searched(plan: PlanSpec, jobs: int | None = None) -> PlanSpec:
    """``plan`` with every ``search`` block replaced by the configurations it finds (after the
    configs the GPU entry lists explicitly); ``plan`` itself when no GPU is searched.
    ``jobs``: processes of each search's full-model re-evaluation (default: all CPUs).

    Raises:
        PlanSpecError: a searched GPU on which a model fits no configuration of the space, a
            model without an SLO, or traffic without token sizes.
    """
    if all(g.search is None for g in plan.gpus):
        return plan
    gpus = []
    for g in plan.gpus:
        if g.search is None:
            gpus.append(g)
            continue
        configs = list(g.fixed_configs)
        for m in plan.models:
            for c in searched_configs(plan, g, m, jobs):
                if c not in configs:
                    configs.append(c)
        gpus.append(g.model_copy(update={"configs": configs, "search": None}))
    return plan.model_copy(update={"gpus": gpus})


def searched_configs(
    plan: PlanSpec, gpu: GPUSpec, model: ModelTraffic, jobs: int | None = None
) -> list[ReplicaConfig]:
    """The first ``gpu.search.top`` distinct configurations planner.search ranks for
    ``model`` on ``gpu`` (plans meeting the SLO first, by tokens/s per GPU)."""
    import perfmodel as pm
    from planner.search import SearchError, SearchSpace, search
    from planner.search.instances import enumerate_instances

    s, serving = gpu.search, plan.capacity.serving
    assert s is not None and serving is not None  # PlanSpec validation guarantees both
    where = f"GPU {gpu.name!r}, model {model.name!r}"
    slo = plan.slo_of(model)
    if slo is None:
        raise PlanSpecError(f"{where}: searched configs need an SLO (plan 'slo' or the model's)")
    try:
        spec = pm.get_model(model.name)
    except pm.UnknownNameError as exc:
        raise PlanSpecError(f"{where}: {exc}") from None
    space = SearchSpace(
        gpus=[gpu.name],
        tp=s.tp,
        pp=s.pp,
        ep=[1],
        quant=s.quant,
        max_num_seqs=s.max_num_seqs,
        token_budget=s.token_budget,
        modes=["aggregated"],
    )
    engine = _engine_name(serving, gpu.name)
    kept = enumerate_instances(spec, space, 1, serving.calibration, engine).kept
    kv = max((i.engine.kv_tokens for i in kept), default=spec.max_position_embeddings)
    workload = _workload(plan, model, min(kv, spec.max_position_embeddings), where)
    try:
        res = search(
            spec,
            workload,
            ServingCapacity.serving_slo(slo),
            space,
            top=s.n_evaluate,
            calibration=serving.calibration,
            engine=engine,
            jobs=jobs,
        )
    except SearchError as exc:
        raise PlanSpecError(
            f"{where}: no searched configuration fits ({exc}); widen gpus[].search or drop the GPU"
        ) from None
    out: list[ReplicaConfig] = []
    for row in res.to_frame().itertuples():
        c = ReplicaConfig(
            tp=int(row.tp),
            pp=int(row.pp),
            quant=str(row.quant),
            max_num_seqs=int(row.max_num_seqs),
            token_budget=int(row.token_budget),
        )
        if c not in out:
            out.append(c)
        if len(out) == s.top:
            break
    return out


def _engine_name(serving, gpu: str) -> str | None:
    """The serving-engine profile of ``gpu``'s pools (None: GPU time only)."""
    engines = {hardware_key(k): v for k, v in serving.engines.items()}
    name = engines.get(hardware_key(gpu), serving.engine)
    return None if name is None or name.lower() == "none" else name


def _workload(plan: PlanSpec, model: ModelTraffic, max_tokens: int, where: str):
    """The model's traffic as a planner Workload: buckets with requests whose prompt +
    output fit ``max_tokens``, shares renormalized."""
    from planner.workload import Workload

    buckets, _ = model_buckets(plan, model)
    a, b = buckets.input_tokens, buckets.output_tokens
    if np.isnan(a).any() or np.isnan(b).any():
        raise PlanSpecError(
            f"{where}: searched configs need token sizes of every bucket (give input_tokens / "
            "output_tokens)"
        )
    ins = np.maximum(1, np.rint(a)).astype(int)
    outs = np.maximum(1, np.rint(b)).astype(int)
    keep = (buckets.prob > 0) & (ins + outs <= max_tokens)
    if not keep.any():
        raise PlanSpecError(
            f"{where}: no request fits one replica of the searched space ({max_tokens} tokens); "
            "widen gpus[].search (tp, pp, quant) or drop the GPU"
        )
    p = buckets.prob[keep]
    return Workload(f"{model.name} traffic", ins[keep], outs[keep], p / p.sum())
