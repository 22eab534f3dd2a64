"""Capacity from capplan's serving model (``planner.serving``): the highest request rate one
replica sustains under the SLO for requests of each bucket's size.

One :class:`planner.serving.Engine` is built per (model, pool configuration: GPU, tp, pp,
quant, max_num_seqs, token_budget) and reused for every bucket; a pool's quant replaces the
plan's weights / kv, and its limits run chunked prefill (vLLM V1) with them. A bucket is
ineligible when the replica cannot hold the model (memory, invalid tp), when the request is
longer than the model's context or the KV cache, or when no rate meets the SLO (e.g. the
zero-load TTFT already exceeds it). ``planner.serving`` is imported lazily so the
planner works with measured tables alone.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from planner.mix.capacity import PoolCapacity
from planner.mix.errors import PlanSpecError
from planner.mix.pools import Pool
from planner.mix.spec import ServingCapacitySpec, SLOSpec
from planner.mix.traffic import Buckets

SERVING_PERCENTILES = (0.5, 0.9, 0.99)


def derating(pessimistic: bool) -> float:
    """The factor on every max rate: 1, or the low end of the throughput band (1 / r90)."""
    if not pessimistic:
        return 1.0
    from planner.fit.bands import bands

    b = bands()
    if b is None:
        raise PlanSpecError("pessimistic: no error bands are shipped (benchmarks/serving_fit.py)")
    return b.pessimistic(1.0, "throughput")


def hardware_key(name: str) -> str:
    """A GPU type's catalog name (aliases resolved), for matching plan entries."""
    import hardware_specs

    try:
        return hardware_specs.get(name).name
    except hardware_specs.UnknownHardwareError:
        return name


class ServingCapacity:
    """Capacity provider backed by ``planner.serving.max_rate_under_slo``."""

    @property
    def name(self) -> str:
        """What the report says the capacities come from: the serving model, its engine
        profile(s), kernel data and whether the rates are derated to the band's low end."""
        from hardware_specs.engines import get_engine

        def label(e):
            return (
                "none (GPU time only)" if e is None or e.lower() == "none" else get_engine(e).label
            )

        per_gpu = "".join(f"; {g}: {label(e)}" for g, e in self.engines.items())
        derated = f"; rates x{self.derate:.3g} (pessimistic band)" if self.derate != 1 else ""
        return (
            f"serving model, engine {label(self.engine)}{per_gpu}, "
            f"calibration {self.calibration}{derated}"
        )

    def __init__(
        self,
        calibration: str = "default",
        scheduler: Any = None,
        weights: str | None = None,
        kv: str | None = None,
        engine: str | None = None,
        engines: dict[str, str] | None = None,
        pessimistic: bool = False,
    ) -> None:
        self.calibration = calibration
        self.scheduler = scheduler
        self.weights = weights
        self.kv = kv
        self.engine = engine
        self.engines = {hardware_key(k): v for k, v in (engines or {}).items()}
        self.derate = derating(pessimistic)
        self._engine = lru_cache(maxsize=None)(self._build_engine)
        self._rate = lru_cache(maxsize=None)(self._max_rate)
        self._prepared = lru_cache(maxsize=None)(self._prepare)

    @classmethod
    def from_spec(cls, spec: ServingCapacitySpec) -> ServingCapacity:
        return cls(
            spec.calibration,
            spec.scheduler,
            spec.weights,
            spec.kv,
            spec.engine,
            spec.engines,
            spec.pessimistic,
        )

    def engine_of(self, gpu: str) -> str | None:
        """The serving-engine profile of a GPU type's pools (None: GPU time only)."""
        name = self.engines.get(hardware_key(gpu), self.engine)
        return None if name is None or name.lower() == "none" else name

    # ---- engines and SLOs ------------------------------------------------------------------
    def replica_engine(self, model: str, pool: Pool) -> Any:
        """The (cached) Engine of one replica of ``pool``, or the reason (str) it cannot
        exist."""
        key = (pool.gpu, pool.tp, pool.pp, pool.quant, pool.max_num_seqs, pool.token_budget)
        return self._engine(model, *key)

    def _build_engine(
        self,
        model: str,
        gpu: str,
        tp: int,
        pp: int,
        quant_name: str | None = None,
        max_num_seqs: int | None = None,
        token_budget: int | None = None,
    ) -> Any:
        """The Engine of one replica, or the reason (str) it cannot exist."""
        import perfmodel as pm
        from planner.serving import engine_for

        try:
            spec = pm.get_model(model)
        except pm.UnknownNameError as exc:
            raise PlanSpecError(f"model {model!r} (serving capacity): {exc}") from None
        quant = None
        if quant_name is not None:
            from planner.search.space import parse_quant

            quant = parse_quant(quant_name)
        elif self.weights or self.kv:
            base = pm.step.default_quant(spec)
            quant = pm.Quant(self.weights or base.weights, base.activations, self.kv or base.kv)
        scheduler = self.scheduler
        limits = {"max_num_seqs": max_num_seqs, "token_budget": token_budget}
        if any(v is not None for v in limits.values()):
            scheduler = {"kind": "chunked"} | {k: v for k, v in limits.items() if v is not None}
        try:
            return engine_for(
                spec,
                gpu,
                pm.Parallelism(tp=tp, pp=pp),
                scheduler,
                quant,
                self.calibration,
                self.engine_of(gpu),
            )
        except pm.PerfModelError as exc:
            return str(exc)

    @staticmethod
    def serving_slo(slo: SLOSpec) -> Any:
        """The planner SLO as ``planner.serving.SLO`` (percentile 0.5, 0.9, 0.99 or mean)."""
        from planner.serving import SLO

        pct = slo.percentile
        if pct is not None and round(pct, 2) not in SERVING_PERCENTILES:
            raise PlanSpecError(
                f"SLO percentile {pct:g}: the serving model reports 0.5, 0.9, 0.99 or the mean "
                "(percentile: null)"
            )
        return SLO(ttft_s=slo.ttft_s, tpot_s=slo.tpot_s, e2e_s=slo.e2e_s, percentile=pct)

    def _max_rate(self, model: str, pool: Pool, inp: int, out: int, slo: SLOSpec):
        """(rate, reason) of one request size on one pool."""
        from planner.serving import max_rate_under_slo

        engine = self.replica_engine(model, pool)
        if isinstance(engine, str):
            return 0.0, engine
        if inp + out > engine.max_context:
            return 0.0, f"{inp + out} tokens exceed the model context ({engine.max_context})"
        if inp + out > engine.kv_tokens:
            return 0.0, (
                f"{inp + out} tokens exceed the KV cache of one replica ({engine.kv_tokens} tokens)"
            )
        work = self._prepared(model, pool, inp, out)
        res = max_rate_under_slo(engine, None, work, self.serving_slo(slo))
        rate = float(res.rate) * self.derate if res.feasible else 0.0
        return rate, None if rate > 0 else res.reason

    def _prepare(self, model: str, pool: Pool, inp: int, out: int) -> Any:
        """The fixed-size workload prepared for the pool's engine, kept across SLOs (a sweep
        over SLO scales reuses its tables, capacity and random numbers)."""
        from planner.serving import prepare
        from planner.workload import Workload

        return prepare(self.replica_engine(model, pool), Workload.fixed(inp, out))

    # ---- provider protocol -----------------------------------------------------------------
    def capacity(
        self, model: str, pool: Pool, buckets: Buckets, slo: SLOSpec | None
    ) -> PoolCapacity:
        """Max req/s of one replica for each bucket (one serving-model bisection each)."""
        if slo is None:
            raise PlanSpecError("the serving capacity provider needs an SLO (plan 'slo' field)")
        rates, reasons = [], []
        for a, b in zip(buckets.input_tokens, buckets.output_tokens):
            if math.isnan(a) or math.isnan(b):
                rates.append(0.0)
                reasons.append("bucket has no token sizes (give input_tokens / output_tokens)")
                continue
            r, why = self._rate(model, pool, max(1, round(a)), max(1, round(b)), slo)
            rates.append(r)
            reasons.append(why)
        return PoolCapacity(np.array(rates), tuple(reasons))

    def predict(
        self,
        model: str,
        pool: Pool,
        buckets: Buckets,
        weights: np.ndarray,
        rate: float,
        slo: SLOSpec | None,
    ) -> dict[str, float]:
        """TTFT and TPOT (at the SLO's statistic, seconds) of one replica serving the routed
        mix of buckets at ``rate`` req/s."""
        from planner.serving import analyze, prepare
        from planner.workload import Workload

        engine = self.replica_engine(model, pool)
        keep = weights > 0
        if isinstance(engine, str) or not keep.any() or rate <= 0:
            return {}
        work = Workload(
            "routed",
            np.maximum(1, np.rint(buckets.input_tokens[keep])).astype(int),
            np.maximum(1, np.rint(buckets.output_tokens[keep])).astype(int),
            weights[keep] / weights[keep].sum(),
        )
        report = analyze(engine, prepare(engine, work), rate)
        stat = (
            "mean" if slo is None or slo.percentile is None else f"p{round(slo.percentile * 100)}"
        )
        return {"ttft_s": report.ttft.get(stat), "tpot_s": report.tpot.get(stat)}
