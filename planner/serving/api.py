"""Entry points: evaluate a replica at a rate, and the highest rate that meets an SLO."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np
from scipy import optimize

from planner.workload import Workload

from .analytic import Latencies, continuous, continuous_capacity, disaggregated, static
from .chunked import TTFT_RSE, chunked, chunked_capacity
from .engine import Engine
from .errors import positive_rate
from .prepared import Prepared, prepare
from .report import Percentiles, ServingReport
from .slo import SLO

SAMPLES = 4096
T_FLOOR, T_CAP, T_STEP = math.log(1e-4 / (1 - 1e-4)), math.log(1e9), 2.0
CLIP = 10.0
CLOSED_FORM = {"continuous": continuous, "static": static, "disaggregated": disaggregated}


def engine_for(
    model, hardware, plan=None, scheduler=None, quant=None, calibration="default", engine=None
):
    """Build (or pass through) the Engine of one replica; ``engine`` names the serving-engine
    profile (hardware_specs.engines; None: GPU time only)."""
    if isinstance(model, Engine):
        return model
    return Engine.build(model, hardware, plan, scheduler, quant, calibration, engine)


def _workload(workload) -> Workload:
    if isinstance(workload, Workload):
        return workload
    return Workload.bundled(str(workload))


def analyze(
    engine: Engine,
    prepared: Prepared,
    rate: float,
    slo: SLO | None = None,
    samples: int = SAMPLES,
    seed: int = 0,
    rse: float | None = TTFT_RSE,
) -> ServingReport:
    """The analytic ServingReport of ``engine`` at ``rate`` requests/s. A sampled model
    (chunked prefill) solves as many independent paths (at most 16) as its first path's
    relative standard error of the mean TTFT asks for to bring it to ``rse`` (None: one
    path of ``samples``; see planner.serving.chunked.chunked)."""
    rate = positive_rate(rate)
    lat = latencies(engine, prepared, rate, samples, seed, rse)
    return build_report("analytic", engine, prepared, rate, lat, slo)


def latencies(
    engine: Engine, prepared: Prepared, rate: float, samples: int, seed: int, rse=None, only=None
) -> Latencies:
    """The scheduler's analytic Latencies (per-request samples) at ``rate``: chunked prefill's
    sampled path model (``rse`` as in ``analyze``; ``only``: just the samples of these
    metrics, on one path) or a closed-form model."""
    if prepared.w.size == 0:
        return Latencies(0.0, notes=("no request of the workload can be served",))
    rng = np.random.default_rng(seed)
    if engine.scheduler.kind == "chunked":
        return chunked(engine, prepared, rate, rng, samples, rse, only)
    return CLOSED_FORM[engine.scheduler.kind](engine, prepared, rate, rng, samples)


def capacity(engine: Engine, prepared: Prepared) -> float:
    """The rate-independent capacity (req/s) analyze reports below it: chunked prefill's
    fluid capacity directly (no path), else the closed form at a negligible rate."""
    if engine.scheduler.kind == "chunked":
        return chunked_capacity(engine, prepared)
    if engine.scheduler.kind == "continuous":
        return continuous_capacity(engine, prepared) if prepared.w.size else 0.0
    return analyze(engine, prepared, 1e-9, samples=64).capacity


def _violation(slo: SLO, lat: Latencies, rate: float) -> float:
    """SLO.violation of the report these samples give, computing only the targeted metrics
    (inf when overloaded)."""
    if lat.overloaded(rate):
        return math.inf
    return slo.violation(SimpleNamespace(**{k: lat.stats(k) for k in slo.targets()}))


def build_report(source, engine, prepared, rate, lat: Latencies, slo) -> ServingReport:
    """A ServingReport from per-request samples (overloaded when none)."""
    overloaded = lat.overloaded(rate)
    pct = Percentiles.overloaded
    notes = list(lat.notes)
    if overloaded and lat.capacity > 0:
        notes.append(
            f"overloaded: offered {rate:.4g} req/s exceeds capacity "
            f"{lat.capacity:.4g} req/s (load ratio {rate / lat.capacity:.3g})"
        )
    eo, ei = prepared.mean(prepared.D + 1), prepared.mean(prepared.I)
    served = rate * (1 - sum(prepared.rejected.values()))
    goodput = None
    if slo is not None:
        goodput = 0.0 if overloaded else served * _met_share(slo, lat)
    return ServingReport(
        source=source,
        model=engine.model.name,
        hardware=engine.hardware.name,
        scheduler=engine.scheduler.kind,
        rate=rate,
        capacity=lat.capacity,
        ttft=pct() if overloaded else lat.stats("ttft"),
        tpot=pct() if overloaded else lat.stats("tpot"),
        e2e=pct() if overloaded else lat.stats("e2e"),
        tbt=pct() if overloaded else lat.stats("tbt"),
        ttft_mean_rse=None if overloaded else lat.ttft_rse,
        ttft_boundary=None
        if overloaded or lat.ttft_boundary is None
        else lat.stats("ttft_boundary"),
        decode_batch=math.inf if overloaded else lat.decode_batch,
        output_tokens_per_s=min(rate, lat.capacity) * eo,
        total_tokens_per_s=min(rate, lat.capacity) * (eo + ei),
        goodput=goodput,
        rejected=dict(prepared.rejected),
        notes=tuple(notes),
        calibration=engine.calibration,
        engine=engine.engine_label,
    )


def _met_share(slo: SLO, lat: Latencies) -> float:
    """Share of requests meeting every per-request target."""
    ok = np.ones(lat.ttft.size, dtype=bool)
    if slo.ttft_s is not None:
        ok &= lat.ttft <= slo.ttft_s
    if slo.e2e_s is not None:
        ok &= lat.e2e <= slo.e2e_s
    share = float(ok.mean())
    if slo.tpot_s is not None and lat.tpot.size:
        share *= float((lat.tpot <= slo.tpot_s).mean())
    if slo.tbt_s is not None and lat.tbt.size:
        share *= float((lat.tbt <= slo.tbt_s).mean())
    return share


def evaluate(
    model,
    hardware,
    workload,
    rate: float,
    plan=None,
    scheduler=None,
    quant=None,
    calibration="default",
    slo: SLO | None = None,
    engine=None,
) -> ServingReport:
    """ServingReport of one replica of ``model`` on ``hardware`` at ``rate`` requests/s."""
    replica = engine_for(model, hardware, plan, scheduler, quant, calibration, engine)
    return analyze(replica, prepare(replica, _workload(workload)), rate, slo)


@dataclass(frozen=True)
class MaxRate:
    """Highest request rate (req/s) whose report meets the SLO; 0 with a reason when none."""

    rate: float
    feasible: bool
    capacity: float
    reason: str
    floor: ServingReport
    at_rate: ServingReport | None

    def to_dict(self) -> dict:
        return {
            "rate": self.rate,
            "feasible": self.feasible,
            "capacity": self.capacity,
            "reason": self.reason,
            "floor": self.floor.to_dict(),
            "at_rate": self.at_rate.to_dict() if self.at_rate else None,
        }

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    k: v
                    for k, v in asdict(self).items()
                    if k in ("rate", "feasible", "capacity", "reason")
                }
            ]
        )


def max_rate_under_slo(
    model,
    hardware,
    workload,
    slo: SLO,
    plan=None,
    scheduler=None,
    quant=None,
    calibration="default",
    samples: int = SAMPLES,
    tol: float = 1e-3,
    engine=None,
) -> MaxRate:
    """The largest rate meeting ``slo``: Brent's method on the log violation against the
    load odds t = log(ρ/(1 - ρ)), bracketed from ρ = 1/2 up in steps of 2 (ρ = 0.88, 0.98,
    ...); every evaluation uses the same random numbers, so the SLO metric is monotone in
    the rate. The rate is found to within ``tol`` of the capacity. The search's evaluations
    compute only the SLO's metrics (chunked prefill: their samples on one path); the
    answer's report is then evaluated in full. ``workload`` may be a :class:`Prepared` of this
    engine (``prepare(engine, workload)``): its rate-independent tables, capacity and random
    numbers are then reused, e.g. across SLOs."""
    engine = engine_for(model, hardware, plan, scheduler, quant, calibration, engine)
    prep = workload if isinstance(workload, Prepared) else prepare(engine, _workload(workload))
    cap = capacity(engine, prep)
    runs: dict[float, Latencies] = {cap * 1e-4: latencies(engine, prep, cap * 1e-4, samples, 0)}
    floor = build_report("analytic", engine, prep, cap * 1e-4, runs[cap * 1e-4], slo)
    if cap <= 0 or not slo.met_by(floor):
        worst = max(slo.targets(), key=lambda k: getattr(floor, k).get(slo.stat) / slo.targets()[k])
        got = getattr(floor, worst).get(slo.stat)
        reason = (
            f"no rate meets the SLO: at zero load {slo.stat} {worst.upper()} is "
            f"{got * 1e3:.1f} ms > target {slo.targets()[worst] * 1e3:.1f} ms"
        )
        return MaxRate(0.0, False, cap, reason, floor, None)

    def excess(t: float) -> float:
        """log violation at the rate whose load odds ρ/(1 - ρ) are e^t (queueing delays grow
        about linearly in the odds, so this is close to linear in t); +CLIP when overloaded."""
        rate = rate_at(t)
        if rate not in runs:
            runs[rate] = latencies(engine, prep, rate, samples, 0, only=targets)
            if targets is not None:
                partial.add(rate)
        v = _violation(slo, runs[rate], rate)
        return min(math.log(v), CLIP) if v > 0 else -CLIP

    def rate_at(t: float) -> float:
        return cap * 1e-4 if t <= T_FLOOR else cap / (1 + math.exp(-t))

    # chunked prefill's search evaluations compute the SLO's metrics only (closed forms: all)
    targets = tuple(slo.targets()) if engine.scheduler.kind == "chunked" else None
    partial: set[float] = set()  # rates evaluated for the SLO only
    lo, hi = T_FLOOR, 0.0  # the floor, then half the capacity, then up in steps of the odds
    while excess(hi) <= 0 and hi < T_CAP:
        lo, hi = hi, min(hi + T_STEP, T_CAP)
    if excess(hi) <= 0:
        lo = hi
    else:  # an odds step dt moves the rate by at most cap·dt/4
        lo = optimize.brentq(excess, lo, hi, xtol=4 * tol)
        while excess(lo) > 0:  # brentq may land just above the root
            lo -= 4 * tol
    lo = rate_at(lo)
    lat = runs[lo] if lo in runs and lo not in partial else None
    lat = lat or latencies(engine, prep, lo, samples, 0)
    report = build_report("analytic", engine, prep, lo, lat, slo)
    return MaxRate(lo, True, cap, f"{slo.stat} SLO met up to {lo:.4g} req/s", floor, report)
