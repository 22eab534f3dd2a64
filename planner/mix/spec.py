"""The plan file: pydantic models of a GPU-mix planning request and its loader.

A plan names the models served with their traffic (a histogram of (input, output) token
buckets, a Mélange-style grid, a trace or two laws) and rate, the SLO, the candidate GPU types
with prices, caps and replica configurations, and where per-replica capacity comes from
(a measured table, a Mélange profile, or the serving model). Boundary units carry their unit
in the field name (``rate_rps``, ``ttft_s``, ``usd_per_hour``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

import hardware_specs
from planner.mix.spec_base import StrictModel, check_fraction, check_target
from planner.mix.spec_traffic import RateCurveSpec, TrafficSpec

Pricing = Literal["on_demand", "spot", "reserved"]


class SLOSpec(StrictModel):
    """Latency targets of one model's requests; ``percentile`` None means the mean."""

    ttft_s: PositiveFloat | None = Field(None, description="time to first token, seconds")
    tpot_s: PositiveFloat | None = Field(None, description="time per output token, seconds")
    e2e_s: PositiveFloat | None = Field(None, description="end-to-end latency, seconds")
    percentile: float | None = Field(0.9, gt=0, description="e.g. 0.9; null = mean")

    @field_validator("percentile")
    @classmethod
    def _percentile_fraction(cls, v: float | None) -> float | None:
        return None if v is None else check_fraction(v, "percentile", "0.9 for p90")

    @model_validator(mode="after")
    def _some_target(self) -> Self:
        """An SLO without any target would accept any rate."""
        if self.ttft_s is None and self.tpot_s is None and self.e2e_s is None:
            raise ValueError("set at least one of ttft_s, tpot_s, e2e_s (seconds)")
        return self

    def scaled(self, factor: float) -> SLOSpec:
        """The same SLO with every target multiplied by ``factor`` (> 1 loosens it)."""
        return self.model_copy(update={k: v * factor for k, v in self.targets().items()})

    def targets(self) -> dict[str, float]:
        """The set targets: name -> seconds."""
        items = (("ttft_s", self.ttft_s), ("tpot_s", self.tpot_s), ("e2e_s", self.e2e_s))
        return {k: v for k, v in items if v is not None}

    def describe(self) -> str:
        """``p90 TTFT <= 0.5 s, TPOT <= 0.05 s``."""
        stat = "mean" if self.percentile is None else f"p{100 * self.percentile:g}"
        parts = [f"{k[:-2].upper()} <= {v:.4g} s" for k, v in self.targets().items()]
        return f"{stat} " + ", ".join(parts)


class ModelTraffic(StrictModel):
    """One model served: its traffic, total rate (or rate curve), SLO override and redundancy
    floor."""

    name: str = Field(min_length=1, description="perfmodel name (serving) or any label (tables)")
    rate_rps: PositiveFloat | None = Field(
        None, description="total request rate, req/s (optional for a timed trace or Mélange)"
    )
    rate_curve: RateCurveSpec | None = Field(
        None, description="the rate over a day or week (planner.mix.overtime plans each period)"
    )
    traffic: TrafficSpec
    slo: SLOSpec | None = None
    min_replicas: NonNegativeInt = Field(0, description="e.g. 2 for N+1 redundancy")

    @model_validator(mode="after")
    def _rate_known(self) -> Self:
        """Histograms, grids and laws need an explicit rate or a curve; not both."""
        if self.rate_rps is not None and self.rate_curve is not None:
            raise ValueError("give rate_rps or rate_curve, not both")
        if self.rate_curve is not None:
            return self
        if self.rate_rps is None and self.traffic.trace is None and self.traffic.melange is None:
            raise ValueError(
                "rate_rps (req/s, > 0) or rate_curve is required for histogram, grid and laws"
            )
        return self


def _check_quant(value: str) -> str:
    """A quant name planner.search accepts (bf16, fp8, w4a16, fp8/fp8/fp8, ...)."""
    from planner.search.space import parse_quant

    parse_quant(value)
    return value


class ReplicaConfig(StrictModel):
    """One replica: ``tp * pp`` GPUs; optionally its quantization and its engine limits
    (serving capacity only; None keeps the plan's ``capacity.serving`` settings). A limit
    runs the replica with chunked prefill (vLLM V1) at that max_num_seqs / token budget."""

    tp: PositiveInt = 1
    pp: PositiveInt = 1
    quant: str | None = Field(
        None, description="weights/activations/KV, e.g. bf16, fp8, fp8/fp8/fp8 (planner.search)"
    )
    max_num_seqs: PositiveInt | None = Field(None, description="running sequences per replica")
    token_budget: int | None = Field(None, ge=2, description="tokens per chunked-prefill step")

    @field_validator("quant")
    @classmethod
    def _quant(cls, v: str | None) -> str | None:
        return None if v is None else _check_quant(v)

    @property
    def tuned(self) -> bool:
        """Whether it sets more than tp / pp (needs the serving capacity provider)."""
        return (self.quant, self.max_num_seqs, self.token_budget) != (None, None, None)


class ConfigSearchSpec(StrictModel):
    """Replica configurations found by planner.search (aggregated serving, chunked prefill)
    for each model of the plan on this GPU type, at the model's SLO and traffic: the ``top``
    first distinct (tp, pp, quant, max_num_seqs, token_budget) of its ranking (plans meeting
    the SLO on the whole traffic first, by tokens/s per GPU) become pools."""

    top: PositiveInt = Field(3, description="configurations per model that become pools")
    evaluate: PositiveInt | None = Field(
        None, description="screened plans re-evaluated with the full serving model (2 x top)"
    )
    tp: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=1)
    pp: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1)
    quant: list[str] = Field(default_factory=lambda: ["bf16"], min_length=1)
    max_num_seqs: list[PositiveInt] = Field(default_factory=lambda: [64, 256], min_length=1)
    token_budget: list[Annotated[int, Field(ge=2)]] = Field(
        default_factory=lambda: [2048], min_length=1
    )

    @field_validator("quant")
    @classmethod
    def _quants(cls, v: list[str]) -> list[str]:
        return [_check_quant(q) for q in v]

    @property
    def n_evaluate(self) -> int:
        """Plans the search re-evaluates with the full model (at least ``top``)."""
        return max(self.top, self.evaluate or 2 * self.top)


class GPUSpec(StrictModel):
    """A candidate GPU type: catalog name, prices, availability cap, replica configurations."""

    name: str = Field(min_length=1)
    custom: bool = Field(False, description="not in hardware_specs (needs usd_per_hour)")
    usd_per_hour: PositiveFloat | None = Field(None, description="on-demand $/GPU-hour")
    spot_usd_per_hour: PositiveFloat | None = None
    reserved_usd_per_hour: PositiveFloat | None = None
    pricing: Pricing | None = Field(None, description="overrides the plan's pricing")
    max_gpus: NonNegativeInt | None = Field(None, description="availability cap (GPUs)")
    utilization_target: float | None = Field(
        None, gt=0, description="plan each replica of this type at most this busy (0.7 = 70%)"
    )
    n_plus_one: bool | None = Field(
        None, description="one spare replica in every pool of this type that serves traffic"
    )
    max_spot_gpus: NonNegativeInt | None = Field(
        None, description="rate curves: spot GPUs available per period (spot unused if unset)"
    )
    max_scale_up_gpus: NonNegativeInt | None = Field(
        None, description="rate curves: most GPUs added from one period to the next"
    )
    configs: list[ReplicaConfig] = Field(default_factory=lambda: [ReplicaConfig()], min_length=1)
    search: ConfigSearchSpec | None = Field(
        None,
        description="searched configurations (planner.search); replace the default config, "
        "add to configs listed explicitly",
    )

    @model_validator(mode="after")
    def _resolve(self) -> Self:
        """Catalog names resolve to their canonical spelling; custom GPUs need a price."""
        if self.custom:
            if self.search is not None:
                raise ValueError(
                    f"custom GPU {self.name!r} cannot be searched (not in hardware_specs); "
                    "list its configs instead"
                )
            if (
                self.usd_per_hour is None
                and self.spot_usd_per_hour is None
                and (self.reserved_usd_per_hour is None)
            ):
                raise ValueError(f"custom GPU {self.name!r} needs usd_per_hour")
            return self
        try:
            acc = hardware_specs.get(self.name)
        except hardware_specs.UnknownHardwareError as exc:
            raise ValueError(f"{exc} (or set custom: true with usd_per_hour)") from None
        object.__setattr__(self, "name", acc.name)
        return self

    @property
    def fixed_configs(self) -> list[ReplicaConfig]:
        """The configurations listed in the file (with ``search``: only those given
        explicitly; without it: ``configs`` or the default tp=1)."""
        if self.search is not None and "configs" not in self.model_fields_set:
            return []
        return list(self.configs)

    @field_validator("utilization_target")
    @classmethod
    def _target_fraction(cls, v: float | None) -> float | None:
        return None if v is None else check_target(v)

    def class_price(self, pricing: Pricing) -> float | None:
        """$/GPU-hour under ``pricing``: the plan file's, else the catalog's quote (reserved,
        spot), else None."""
        try:
            return self.price(pricing)
        except ValueError:
            if self.custom:
                return None
        quote = getattr(hardware_specs.get(self.name).price, pricing, None)
        return None if quote is None else quote.usd_per_hour

    def price(self, pricing: Pricing) -> float:
        """$/GPU-hour under ``pricing`` (on-demand defaults to the catalog's price)."""
        if pricing == "on_demand":
            if self.usd_per_hour is not None:
                return self.usd_per_hour
            if self.custom:
                raise ValueError(f"GPU {self.name!r}: no on-demand price (set usd_per_hour)")
            return hardware_specs.get(self.name).price.usd_per_hour
        value = self.spot_usd_per_hour if pricing == "spot" else self.reserved_usd_per_hour
        if value is None:
            raise ValueError(f"GPU {self.name!r}: pricing {pricing} needs {pricing}_usd_per_hour")
        return value


class ServingCapacitySpec(StrictModel):
    """Options of the serving-model capacity provider (planner.serving)."""

    calibration: str = "default"
    scheduler: str | None = None
    weights: str | None = Field(None, description="weight dtype, e.g. fp8 (default: checkpoint)")
    kv: str | None = Field(None, description="KV-cache dtype")
    engine: str = Field("vllm-v1", description="serving engine of every pool ('none': GPU only)")
    engines: dict[str, str] = Field(
        default_factory=dict, description="per GPU type: its serving engine (overrides engine)"
    )
    pessimistic: bool = Field(
        False,
        description="plan at the low end of the 80% throughput band of the engine fit "
        "(planner.fit.bands), so the SLO holds when capplan is as optimistic as it was on "
        "held-out measurements",
    )

    @model_validator(mode="after")
    def _known_engines(self) -> Self:
        """Every engine name resolves (capplan engines list)."""
        from hardware_specs.engines import get_engine

        for name in (self.engine, *self.engines.values()):
            if name.lower() != "none":
                get_engine(name)
        return self


class CapacitySpec(StrictModel):
    """Where per-replica capacity comes from: exactly one of table / melange / serving."""

    table: str | None = Field(None, min_length=1, description="CSV of measured max rates")
    melange: str | None = Field(None, min_length=1, description="Mélange JSON (gpu_info.tputs)")
    serving: ServingCapacitySpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        """Exactly one provider."""
        given = [k for k in ("table", "melange", "serving") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of table, melange, serving (got {given or 'none'})")
        return self


class SweepSpec(StrictModel):
    """Points of the report's cost curves: rate and SLO multipliers of the plan's values."""

    rate_scales: list[PositiveFloat] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0]
    )
    slo_scales: list[PositiveFloat] = Field(default_factory=lambda: [0.5, 0.75, 1.0, 1.5, 2.0, 3.0])


class ScheduleSpec(StrictModel):
    """How a plan with rate curves buys capacity (planner.mix.overtime)."""

    month_hours: PositiveFloat = Field(730.0, description="hours billed per month")
    committed: bool = Field(
        True, description="allow a committed base held in every period at the reserved price"
    )


class PlanSpec(StrictModel):
    """A GPU-mix planning request (one YAML plan file)."""

    name: str = "plan"
    models: list[ModelTraffic] = Field(min_length=1)
    gpus: list[GPUSpec] = Field(min_length=1)
    capacity: CapacitySpec
    slo: SLOSpec | None = Field(None, description="default SLO of every model")
    headroom: NonNegativeFloat = Field(
        0.0, description="plan for rate x (1 + headroom); a fraction, e.g. 0.2 = 20% spare"
    )
    pricing: Pricing = "on_demand"
    utilization_target: float = Field(
        1.0, gt=0, description="default of every GPU type: replicas at most this busy (0.7 = 70%)"
    )
    n_plus_one: bool = Field(False, description="default of every GPU type: a spare per pool")
    max_gpu_types: PositiveInt | None = Field(None, description="at most K distinct GPU types")
    solver: Literal["auto", "cbc", "highs"] = "auto"
    mip_gap: NonNegativeFloat = Field(
        0.0,
        description="relative optimality gap, a fraction in [0, 1) (1e-3 = 0.1%); 0 proves the "
        "cost to the cent (within $0.005/h)",
    )
    time_limit_s: PositiveFloat = 60.0
    compare_single_type: bool = True
    slice_factors: list[PositiveInt] = Field(
        default_factory=list, description="also solve Mélange's slice ILP at these factors"
    )
    slice_comparison: Literal["auto", "always"] = Field(
        "auto",
        description="auto: skip (and say so) a slice ILP of more than 2,000 integer counts; "
        "always: solve it within time_limit_s",
    )
    sweeps: SweepSpec = Field(default_factory=SweepSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    base_dir: str = Field(".", description="folder that relative paths start from")

    @field_validator("mip_gap")
    @classmethod
    def _gap_fraction(cls, v: float) -> float:
        return check_fraction(v, "mip_gap", "0.001 for 0.1%")

    @field_validator("utilization_target")
    @classmethod
    def _target_fraction(cls, v: float) -> float:
        return check_target(v)

    @field_validator("headroom")
    @classmethod
    def _headroom_fraction(cls, v: float) -> float:
        """At most 1 (twice the rate): 20 means 20%, not 21x the rate; raise rate_rps for more."""
        if v > 1:
            raise ValueError(
                f"headroom is a fraction, e.g. 0.2 for 20% spare capacity (it looks "
                f"like a percentage: write {v / 100:g} for {v:g}%; for more than twice the rate "
                "raise rate_rps)"
            )
        return v

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[ModelTraffic]) -> list[ModelTraffic]:
        """Model names key the routing table: no duplicates."""
        _no_duplicates([m.name for m in models], "model")
        return models

    @field_validator("gpus")
    @classmethod
    def _unique_gpus(cls, gpus: list[GPUSpec]) -> list[GPUSpec]:
        """One entry per GPU type (aliases count as the same type)."""
        _no_duplicates([g.name for g in gpus], "GPU")
        return gpus

    @model_validator(mode="after")
    def _prices_known(self) -> Self:
        """Every GPU has a price under its pricing."""
        for g in self.gpus:
            g.price(g.pricing or self.pricing)
        return self

    @model_validator(mode="after")
    def _tuned_needs_serving(self) -> Self:
        """Searched or tuned configs (quant, engine limits) need the serving model."""
        if self.capacity.serving is not None:
            return self
        for g in self.gpus:
            if g.search is not None or any(c.tuned for c in g.configs):
                raise ValueError(
                    f"GPU {g.name!r}: search, quant, max_num_seqs and token_budget need "
                    "capacity: {serving: {}} (a table or Mélange profile knows only tp / pp)"
                )
        return self

    @model_validator(mode="after")
    def _curves_agree(self) -> Self:
        """Rate curves: every model has one, all of the same period length."""
        curves = [m.rate_curve for m in self.models if m.rate_curve is not None]
        if curves and len(curves) != len(self.models):
            raise ValueError("give every model a rate_curve, or none (a plan has one timeline)")
        if len({c.period_hours for c in curves}) > 1:
            raise ValueError("every rate_curve needs the same period_hours")
        return self

    @property
    def over_time(self) -> bool:
        """Whether the models' rates are curves (plan each period)."""
        return any(m.rate_curve is not None for m in self.models)

    def slo_of(self, model: ModelTraffic) -> SLOSpec | None:
        """The model's SLO, else the plan's."""
        return model.slo or self.slo

    def path(self, relative: str) -> Path:
        """A path of the plan resolved against ``base_dir``."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


def _no_duplicates(names: list[str], kind: str) -> None:
    """Raise on a repeated name."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{kind} {n!r} is listed twice; list each {kind} once")
        seen.add(n)
