"""Pools: a GPU type in one replica configuration (tp x pp GPUs per replica) with its price."""

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
        """``A10G`` for one GPU, ``H100-SXM tp4`` / ``H100-SXM tp4 pp2`` otherwise."""
        if self.gpus == 1:
            return self.gpu
        return f"{self.gpu} tp{self.tp}" + (f" pp{self.pp}" if self.pp > 1 else "")

    def to_dict(self) -> dict:
        return asdict(self) | {
            "name": self.name,
            "gpus": self.gpus,
            "usd_per_hour": self.usd_per_hour,
        }


def plan_pools(plan: PlanSpec) -> tuple[Pool, ...]:
    """One pool per (GPU type, replica configuration) of the plan, in file order."""
    pools: list[Pool] = []
    for g in plan.gpus:
        price = g.price(g.pricing or plan.pricing)
        for c in g.configs:
            pool = Pool(g.name, price, c.tp, c.pp)
            if pool not in pools:
                pools.append(pool)
    return tuple(pools)


def gpu_caps(plan: PlanSpec) -> dict[str, int]:
    """Availability caps: GPU type -> max GPUs (types without a cap are absent)."""
    return {g.name: g.max_gpus for g in plan.gpus if g.max_gpus is not None}
