"""Pools: a GPU type in one replica configuration (tp x pp GPUs per replica, optionally a
quantization and engine limits) with its price."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from planner.mix.spec import PlanSpec


@dataclass(frozen=True)
class Pool:
    """Replicas of one GPU type in one configuration; price in $/GPU-hour."""

    gpu: str
    usd_per_gpu_hour: float
    tp: int = 1
    pp: int = 1
    quant: str | None = None  # None: the plan's serving quantization
    max_num_seqs: int | None = None  # None: the engine's default limits
    token_budget: int | None = None
    utilization_target: float = 1.0  # replicas planned at most this busy
    n_plus_one: bool = False  # one spare replica whenever the pool serves traffic

    @property
    def gpus(self) -> int:
        """GPUs per replica (tp * pp)."""
        return self.tp * self.pp

    @property
    def usd_per_hour(self) -> float:
        """$/h of one replica."""
        return self.gpus * self.usd_per_gpu_hour

    @property
    def name(self) -> str:
        """``A10G`` for one GPU, ``H100-SXM tp4`` / ``H100-SXM tp4 pp2`` otherwise, then the
        set options: ``H100-SXM tp2 fp8 seqs64 budget2048``."""
        parts = [self.gpu]
        if self.gpus > 1:
            parts.append(f"tp{self.tp}" + (f" pp{self.pp}" if self.pp > 1 else ""))
        if self.quant is not None:
            parts.append(self.quant)
        if self.max_num_seqs is not None:
            parts.append(f"seqs{self.max_num_seqs}")
        if self.token_budget is not None:
            parts.append(f"budget{self.token_budget}")
        return " ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self) | {
            "name": self.name,
            "gpus": self.gpus,
            "usd_per_hour": self.usd_per_hour,
        }


def plan_pools(plan: PlanSpec) -> tuple[Pool, ...]:
    """One pool per (GPU type, replica configuration) of the plan, in file order (a plan
    with searched configurations must be resolved first: planner.mix.searched)."""
    pools: list[Pool] = []
    for g in plan.gpus:
        if g.search is not None:
            raise ValueError(f"GPU {g.name!r}: resolve its searched configs first")
        price = g.price(g.pricing or plan.pricing)
        target = g.utilization_target or plan.utilization_target
        spare = plan.n_plus_one if g.n_plus_one is None else g.n_plus_one
        for c in g.configs:
            pool = Pool(g.name, price, c.tp, c.pp, c.quant, c.max_num_seqs, c.token_budget,
                        target, spare)  # fmt: skip
            if pool not in pools:
                pools.append(pool)
    return tuple(pools)


def gpu_caps(plan: PlanSpec) -> dict[str, int]:
    """Availability caps: GPU type -> max GPUs (types without a cap are absent)."""
    return {g.name: g.max_gpus for g in plan.gpus if g.max_gpus is not None}
