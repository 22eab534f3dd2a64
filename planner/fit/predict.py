"""capplan's prediction of one measurement row (planner.fit.records.Measurement) under an
engine profile: the row's setup becomes a replica (model, accelerator, TP, dtype, engine),
its lengths a workload and its load one of planner.serving's entry points.

Length distributions: ``fixed`` rows use the stated lengths; named datasets use lognormal
laws with the row's means and the dataset's coefficients of variation (``DATASET_CV``: ShareGPT
as sampled by vLLM's benchmark, prompt CV 1.1, output CV 1.0; uniform lengths from 0 to twice
the mean, CV 1/sqrt(3); DeepSpeed-MII's benchmark client draws normal lengths with standard
deviation 0.3 x the mean (``prompt_length_var``/``max_new_tokens_var``, default 0.3), CV 0.3;
vLLM's random dataset with ``--random-range-ratio 0.15`` (lengths uniform within +-15% of the
mean), CV 0.15/sqrt(3); others CV 1 each).

Offline rows: throughput is the capacity; a finite run's TTFT the fluid queue (``_finite``);
its TPOT and ITL those of a closed loop of all its requests (the batch a saturated replica
runs until the queue drains).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

import perfmodel as pm
from hardware_specs.engines import EngineProfile, Graphs
from planner.serving import SLO, ServingReport, engine_for, max_rate_under_slo, prepare
from planner.serving.analytic import n_cap
from planner.serving.api import analyze
from planner.serving.loads import (
    LoadResult,
    closed_loop,
    offline,
    report_metric,
    static_batch,
    step_tokens,
)
from planner.serving.schedulers import NAMES
from planner.workload import Workload
from queueing import LogNormal

from .records import Measurement

DATASET_CV = {
    "sharegpt": (1.1, 1.0),
    "random-uniform": (0.58, 0.58),
    "synthetic-normal-30pct": (0.3, 0.3),
    "random-15pct": (0.087, 0.087),
}
DEFAULT_CV = (1.0, 1.0)
OFFLINE_CLIENTS = 1000  # an offline run of unstated size: the batch a saturated replica runs
SAMPLES = 1024
ENGINE_OF = (  # (engine, lowest version) -> profile name, first match wins
    ("vllm", (0, 8), "vllm-v1"),
    ("vllm", (0, 6), "vllm-0.6"),
    ("vllm", (0, 0), "vllm-0.2"),
    ("sglang", (0, 0), "sglang"),
    ("trtllm", (0, 0), "trtllm"),
)


class UnsupportedRow(ValueError):
    """A row capplan has no profile or model for (named in the fit's report, not fitted)."""


def _version(text: str) -> tuple[int, int]:
    nums = [int(x) for x in re.findall(r"\d+", text)[:2]]
    return tuple(nums + [0] * (2 - len(nums))) if nums else (0, 0)


NOT_CUDA = ("TPU", "Gaudi")  # vLLM on these runs another backend (XLA / JAX, HPU graphs)


def profile_name(row: Measurement) -> str:
    """The bundled engine profile a row's engine and version map to (no version: the
    current one). The profiles describe the engines' GPU backends; vLLM's TPU and Gaudi
    backends are other runtimes, not modelled."""
    if row.hardware.startswith(NOT_CUDA):
        raise UnsupportedRow(f"no engine profile for {row.engine} on {row.hardware}")
    v = _version(row.engine_version) if row.engine_version else None
    for engine, lowest, name in ENGINE_OF:
        if row.engine == engine and (v is None or v >= lowest):
            return name
    raise UnsupportedRow(f"no engine profile for {row.engine!r}")


@lru_cache(maxsize=256)
def workload(dataset: str, input_tokens: float, output_tokens: float) -> Workload:
    """The row's length distribution (module docstring)."""
    if dataset == "fixed":
        return Workload.fixed(round(input_tokens), round(output_tokens))
    cv_in, cv_out = DATASET_CV.get(dataset, DEFAULT_CV)
    return Workload.from_laws(
        LogNormal.from_mean_cv(input_tokens, cv_in),
        LogNormal.from_mean_cv(output_tokens, cv_out),
        n=1024,
        name=dataset,
    )


def parse_slo(text: str) -> SLO:
    """'p90 ttft<=0.4s; p90 tpot<=0.04s' (one statistic for every target: mean, p50, p90,
    p99) -> SLO."""
    targets, stats = {}, set()
    for part in filter(None, (x.strip() for x in text.split(";"))):
        m = re.fullmatch(r"(mean|p50|p90|p99)\s+(ttft|tpot|e2e|tbt)\s*<=\s*([\d.eE+-]+)\s*s", part)
        if not m:
            raise ValueError(f"slo {part!r}: expected e.g. 'p90 ttft<=0.4s'")
        stats.add(m[1])
        targets[f"{m[2]}_s"] = float(m[3])
    if len(stats) != 1:
        raise ValueError(f"slo {text!r}: use one statistic for every target")
    (stat,) = stats
    return SLO(**targets, percentile=None if stat == "mean" else int(stat[1:]) / 100)


SCHEDULER_SETTINGS = ("max_num_seqs", "max_num_batched_tokens", "token_budget",
                      "memory_utilization", "block_size")  # fmt: skip
SETTINGS = (*SCHEDULER_SETTINGS, "chunked_prefill", "num_scheduler_steps", "enforce_eager")


def settings(row: Measurement) -> dict[str, str]:
    """The row's ``settings`` cell as {key: value}; an option capplan does not model makes
    the row unsupported (named)."""
    out = {}
    for part in filter(None, (x.strip() for x in row.settings.split(";"))):
        key, _, value = (x.strip() for x in part.partition("="))
        if key not in SETTINGS or not value:
            raise UnsupportedRow(f"engine setting {part!r} is not modelled (known: {SETTINGS})")
        out[key] = value
    return out


@dataclass(frozen=True)
class Setup:
    """What a row runs on (rows sharing it share one replica)."""

    model: str
    hardware: str
    tp: int
    quant: str
    settings: tuple[tuple[str, str], ...] = ()


def setup_of(row: Measurement) -> Setup:
    return Setup(row.model, row.hardware, row.tp, row.quant, tuple(sorted(settings(row).items())))


def profile_overrides(setup: Setup) -> dict:
    """Engine-profile fields a setup's settings change: multi-step scheduling, and eager
    mode (``enforce_eager=true``: no CUDA graph, so no padding, and every step pays the
    profile's ``eager_step_s``; also vLLM before 0.2.5, which had no graphs)."""
    given = dict(setup.settings)
    steps = given.get("num_scheduler_steps")
    out: dict = {"multi_step": int(steps)} if steps else {}
    if _eager(given):
        out["graphs"] = Graphs(mode="none")
    return out


def eager(row: Measurement) -> bool:
    """Whether the row's run had no CUDA graphs (``enforce_eager=true``)."""
    return _eager(settings(row))


def _eager(given: dict[str, str]) -> bool:
    return given.get("enforce_eager", "false").lower() == "true"


def scheduler_of(setup: Setup, profile: EngineProfile, hardware) -> dict | None:
    """The scheduler the setup's settings ask for, over the profile's defaults."""
    given = dict(setup.settings)
    if not set(given) & {*SCHEDULER_SETTINGS, "chunked_prefill"}:
        return None
    spec = profile.scheduler_for(hardware)
    if "chunked_prefill" in given:
        spec["kind"] = "chunked" if given["chunked_prefill"].lower() == "true" else "continuous"
    for key in SCHEDULER_SETTINGS:
        if key in given:
            spec[key] = float(given[key]) if key == "memory_utilization" else int(given[key])
    if spec["kind"] == "chunked" and "max_num_batched_tokens" in given:
        spec["token_budget"] = spec["max_num_batched_tokens"]
    fields = NAMES[spec["kind"]].model_fields
    return {k: v for k, v in spec.items() if k in fields}


def build(setup: Setup, profile: EngineProfile):
    """The replica of a setup under ``profile`` (its settings applied)."""
    import hardware_specs

    model = pm.get_model(setup.model)
    quant = pm.step.weight_quant(model, setup.quant)
    profile = profile.model_copy(update=profile_overrides(setup))
    hw = hardware_specs.get(setup.hardware)
    return engine_for(model, hw, pm.Parallelism(tp=setup.tp),
                      scheduler_of(setup, profile, hw), quant=quant, engine=profile)  # fmt: skip


def predict(row: Measurement, replica, memo: dict | None = None) -> float:
    """capplan's value of the row's metric on ``replica`` (inf when it cannot serve it).
    ``memo`` (one dict per replica) keeps each load's answer, keyed by the replica's current
    host terms, so rows that differ only in the metric share one evaluation."""
    slo = row.slo if row.metric == "max_rate_rps" else ""
    load, level = row.load, row.load_value
    if load == "offline" and row.metric.split("_")[0] in ("tpot", "itl"):
        load, level = "saturated", float(row.num_requests or OFFLINE_CLIENTS)
    args = (load, level, row.dataset, row.input_tokens, row.output_tokens, slo)
    h = replica.steps.host
    key = (h.coefs, h.gpu_scale, *args) if h is not None else args
    k = replica.profile.multi_step if replica.profile is not None else 1
    memo = {} if memo is None else memo
    if key not in memo:
        memo[key] = outcome(replica, *args)
    finite = _finite(memo[key], row, replica)
    return finite if finite is not None else _metric(memo[key], row.metric, k)


def _finite(res, row: Measurement, replica) -> float | None:
    """TTFT of a finite run of N requests that outpaces the server (offline, or a rate above
    capacity mu), in a fluid queue with S = N_cap slots: request i arrives at i/lambda; the
    first S are admitted at once and prefilled k = budget / I per iteration, the first token
    of request i <= S at i t_pre(k)/k; request i > S is admitted when the (i - S)-th request
    ends, at (i - S)/mu, and prefilled in t_pre(k)/k. TTFT_i = max(that - i/lambda, t_pre/k);
    the row's statistic over i = 1..N. None where the steady-state model applies (or N is
    unknown)."""
    if not (row.num_requests and row.metric.startswith("ttft")) or res is None:
        return None
    if isinstance(res, LoadResult) and res.load == "offline":
        mu, lam = res.request_s, math.inf
    elif isinstance(res, ServingReport) and res.overloaded:
        mu, lam = res.capacity, res.rate
    else:
        return None
    p = prepare(replica, workload(row.dataset, row.input_tokens, row.output_tokens))
    mean_i = p.mean(p.I)
    k = max(1, int((step_tokens(replica) or mean_i) // max(mean_i, 1)))
    per_prompt = float(replica.steps.prefill(np.array([mean_i]), np.array([k]))[0]) / k
    i = np.arange(1, int(row.num_requests) + 1, dtype=float)
    slots_n = n_cap(replica, p)
    first = np.where(i <= slots_n, i * per_prompt, (i - slots_n) / mu + per_prompt)
    ttft = np.maximum(first - i / lam, per_prompt)
    stat = row.metric.split("_")[1]
    return float(ttft.mean() if stat == "mean" else np.percentile(ttft, int(stat[1:])))


def _metric(res, metric: str, k: int = 1) -> float:
    """The metric of an outcome. With k decode steps per scheduler call, a new prompt waits
    on average (k - 1)/2 decode steps for the running block to end, and tokens stream in
    bursts of k (vLLM's ITL is the gap between bursts)."""
    if res is None:
        return math.inf
    if isinstance(res, float):
        return res
    value = res.metric(metric) if isinstance(res, LoadResult) else report_metric(res, metric)
    if k > 1 and metric.startswith("ttft"):
        tpot = res.tpot_mean_s if isinstance(res, LoadResult) else res.tpot.mean
        value += (k - 1) / 2 * tpot
    if k > 1 and metric.startswith("itl"):
        value *= k
    return value


def outcome(replica, load, level, dataset, input_tokens, output_tokens, slo):
    """The serving model's answer for one load on ``replica``: a LoadResult, a
    ServingReport, a max rate (float), or None when no request of the workload fits."""
    if load == "batch":
        return static_batch(replica, int(level), round(input_tokens), round(output_tokens))
    wl = workload(dataset, input_tokens, output_tokens)
    p = prepare(replica, wl)
    if p.w.size == 0:
        return None
    if slo:
        return float(max_rate_under_slo(replica, None, wl, parse_slo(slo), samples=SAMPLES).rate)
    if load == "offline":
        return offline(replica, p)
    if load in ("concurrency", "saturated"):  # saturated: an offline run's latencies, a
        return closed_loop(replica, p, level)  # closed loop of all its requests
    return analyze(replica, p, level, samples=SAMPLES, rse=None)
