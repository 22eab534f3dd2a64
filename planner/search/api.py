"""search(): screen every plan of a space, re-evaluate the best with the full serving model."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

import perfmodel as pm
from perfmodel.plan_checks import smallest_fitting_plan
from planner.serving import SLO
from planner.serving.api import SAMPLES
from planner.workload import Workload

from . import screen
from .errors import SearchError
from .full import Context, evaluate_rows
from .instances import Instances, enumerate_instances, instance_table
from .objectives import add_metrics, check_objective, rank
from .result import SearchResult
from .space import SearchSpace, parse_quant

DEFAULT_ENGINE = "vllm-v1"
TTFT_BOUND_S = 5.0


def search(
    model,
    workload,
    slo: SLO | dict,
    space: SearchSpace | dict | None = None,
    objective: str = "tokens_per_gpu",
    top: int = 50,
    target_rate: float | None = None,
    calibration="default",
    engine: str | None = DEFAULT_ENGINE,
    jobs: int | None = None,
    progress=None,
    samples: int = SAMPLES,
) -> SearchResult:
    """Best deployment plans of ``model`` for ``workload`` under ``slo``: every plan of
    ``space`` screened in closed form (planner.search.screen), the ``top`` best by
    ``objective`` (OBJECTIVES) re-evaluated with the full serving model in ``jobs``
    processes (default: all CPUs; ``samples`` requests per evaluation) and ranked by it.
    ``target_rate`` (req/s) sizes the 'min_gpus' objective; ``progress(stage, done,
    total)`` is called as work advances."""
    t0 = time.perf_counter()
    model = pm.get_model(model) if isinstance(model, str) else model
    w = workload if isinstance(workload, Workload) else Workload.bundled(str(workload))
    slo, notes = bounded(slo if isinstance(slo, SLO) else SLO(**slo))
    space = space if isinstance(space, SearchSpace) else SearchSpace(**(space or {}))
    _check_args(model, w, objective, top, target_rate)
    st = screen.WorkloadStats.of(w, slo.percentile or 0.5)
    tg = screen.Targets.of(slo)
    insts = enumerate_instances(model, space, st.largest, calibration, engine)
    if not insts.kept:
        raise SearchError(_empty_message(model, space, insts))
    plans = _screen(insts, st, tg, space, target_rate, progress)
    t1 = time.perf_counter()
    ranked = rank(plans, objective)
    chosen = ranked.head(top)
    ctx = Context(insts.kept, w, slo, space.memory_utilization, samples)
    full = full_tier(ctx, chosen, st, target_rate, objective, jobs, progress)
    t2 = time.perf_counter()
    return SearchResult(
        model=model.name,
        workload=w.name,
        slo=slo,
        objective=objective,
        target_rate=target_rate,
        plans=plans,
        top=full,
        pruned=dict(insts.pruned),
        pruned_examples=dict(insts.examples),
        screen_s=t1 - t0,
        full_s=t2 - t1,
        engine=engine,
        instances=insts.kept,
        notes=notes,
    )


def bounded(slo: SLO) -> tuple[SLO, list[str]]:
    """``slo`` with a TTFT target of TTFT_BOUND_S when it bounds neither TTFT nor E2E (else
    the highest rate sits at the capacity, where waits grow without bound), and the note
    that says so."""
    if slo.ttft_s is not None or slo.e2e_s is not None:
        return slo, []
    note = (
        f"the SLO bounds neither TTFT nor E2E: TTFT {slo.stat} <= {TTFT_BOUND_S:g} s assumed "
        "(Vidur's 5 s scheduling-delay bound); give --slo-ttft to change it"
    )
    return slo.model_copy(update={"ttft_s": TTFT_BOUND_S}), [note]


def _check_args(model, w: Workload, objective: str, top: int, target_rate) -> None:
    check_objective(objective)
    if not isinstance(top, int) or top < 1:
        raise SearchError(f"top must be an integer >= 1 (plans to re-evaluate), got {top!r}")
    sized = target_rate is not None and np.isfinite(target_rate) and target_rate > 0
    if objective == "min_gpus" and not sized:
        raise SearchError("objective min_gpus needs target_rate (req/s > 0), e.g. --target-rate 20")
    largest = int((w.input_tokens + w.output_tokens).max())
    if largest > model.max_position_embeddings:
        raise SearchError(
            f"workload {w.name!r}: its largest request ({largest} tokens) exceeds "
            f"{model.name}'s context of {model.max_position_embeddings} tokens; shorten "
            "the requests or choose a model with a longer context"
        )


def _screen(insts: Instances, st, tg, space: SearchSpace, target_rate, progress) -> pd.DataFrame:
    """Tier 1 over every instance (aggregated) and every (GPU, quant) group (disaggregated),
    with the descriptive and metric columns."""
    kept, parts = insts.kept, []
    total = len(kept) * (1 + ("disaggregated" in space.modes))
    done = 0
    if "aggregated" in space.modes:
        for k, inst in enumerate(kept):
            parts.append(screen.aggregated(inst, k, st, tg, space.max_num_seqs, space.token_budget))
            done += 1
            if progress:
                progress("screen", done, total)
    if "disaggregated" in space.modes:
        tables = []
        for inst in kept:
            tables.append(screen.instance_tables(inst, st, tg, space.max_num_seqs))
            done += 1
            if progress:
                progress("screen", done, total)
        groups: dict[tuple, list[int]] = {}
        for k, inst in enumerate(kept):
            groups.setdefault((inst.gpu, inst.quant), []).append(k)
        for ids in groups.values():
            parts.append(
                screen.disaggregated(
                    kept,
                    ids,
                    tables,
                    space.max_num_seqs,
                    tg,
                    space.max_instances,
                    space.max_gpus_per_unit,
                )
            )
    plans = screen.frame(parts)
    return describe(plans, kept, st.mean_out, target_rate)


def describe(plans: pd.DataFrame, kept, mean_out: float, target_rate=None) -> pd.DataFrame:
    """Add the instance columns (gpu, quant, tp, pp, ep, prefill tp/pp) and the metrics."""
    tab = instance_table(kept)
    k, kp = plans["instance"].to_numpy(), plans["prefill_instance"].to_numpy()
    front = {
        "gpu": tab["gpu"][k],
        "quant": tab["quant"][k],
        "tp": tab["tp"][k],
        "pp": tab["pp"][k],
        "ep": tab["ep"][k],
        "prefill_tp": tab["tp"][kp],
        "prefill_pp": tab["pp"][kp],
    }
    for i, (name, col) in enumerate(front.items()):
        if name in plans:
            plans[name] = col
        else:
            plans.insert(1 + i, name, col)
    return add_metrics(plans, mean_out, tab["price"][k], tab["tdp"][k], target_rate)


def full_tier(ctx: Context, chosen: pd.DataFrame, st, target_rate, objective, jobs, progress):
    """Tier 2 on ``chosen``: the full model's figures replace the screen's (kept as
    screen_*), metrics recomputed, ranked by the full model."""
    if chosen.empty:
        return chosen.copy()
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if progress:
        progress("full", 0, len(chosen))
    full = evaluate_rows(ctx, chosen, jobs)
    if progress:
        progress("full", len(chosen), len(chosen))
    out = chosen.copy()
    out.insert(0, "screen_rank", np.arange(1, len(out) + 1))
    for col in ("rate_rps", "tokens_per_s_per_gpu", "tpot_s", "ttft_s"):
        out[f"screen_{col}"] = chosen[col]
    for col in full.columns:
        out[col] = full[col]
    out = describe(out, ctx.instances, st.mean_out, target_rate)
    ranked = rank(out, objective)
    rest = out.drop(ranked.index)
    return pd.concat([ranked, rest]).reset_index(drop=True)


def _empty_message(model, space: SearchSpace, insts: Instances) -> str:
    """Why no plan survived: counts per pruning reason, an example each, and the smallest
    plan that would fit on the space's largest-memory GPU."""
    reasons = "; ".join(
        f"{n} by {r} (e.g. {insts.examples[r]})" for r, n in insts.pruned.most_common()
    )
    big = max(space.accelerators(), key=lambda h: h.memory_gib)
    hint = smallest_fitting_plan(model, big, parse_quant(space.quant[0]), space.memory_utilization)
    return (
        f"no plan of the space fits {model.name}: pruned {reasons}. On {big.name} "
        f"({space.quant[0]}): {hint}; widen tp/pp, max_gpus_per_unit or the GPU list"
    )
