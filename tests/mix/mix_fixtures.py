"""Data and fakes shared by the GPU-mix planner tests (imported by conftest and tests)."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from planner.mix.capacity import PoolCapacity
from planner.mix.pools import Pool

# Mélange's toy example (github.com/tyler-griggs/melange-release, melange/config/example.json,
# whose README gives the solver's answer for it: {"A10G": 3, "A100-80GB": 1, "cost": 6.7}).
MELANGE_TOY = {
    "gpu_info": {
        "A10G": {"cost": 1.01, "tputs": [[2, 1], [5, 2]]},
        "A100-80GB": {"cost": 3.67, "tputs": [[20, 20], [40, 20]]},
    },
    "workload_distribution": [[0.2, 0.1], [0.5, 0.2]],
    "total_request_rate": 30.0,
    "slice_factor": 1,
}


class FakeCapacity:
    """Capacity of a replica = speed / (input/prefill + output/decode), times the SLO's
    looseness (tpot_s / 0.05): a simple, monotone stand-in for the serving model. Requests of
    more than ``max_tokens[gpu]`` tokens are ineligible ("context")."""

    name = "fake"

    def __init__(self, speed: dict[str, float], max_tokens: dict[str, float] | None = None):
        self.speed = speed
        self.max_tokens = max_tokens or {}

    def capacity(self, model, pool: Pool, buckets, slo) -> PoolCapacity:
        loose = 1.0 if slo is None or slo.tpot_s is None else slo.tpot_s / 0.05
        size = buckets.input_tokens / 4000 + buckets.output_tokens / 200
        rate = self.speed[pool.gpu] * pool.gpus**0.9 * loose / size
        limit = self.max_tokens.get(pool.gpu, np.inf) * pool.gpus
        too_long = buckets.input_tokens + buckets.output_tokens > limit
        reasons = tuple("context too long" if t else None for t in too_long)
        return PoolCapacity(np.where(too_long, 0.0, rate), reasons)


#: a measured capacity table for the two-bucket plan of ``plan_dict``
TABLE = """gpu,input_tokens,output_tokens,max_rate_rps
A10G,512,128,2.0
A10G,4096,256,0
H100,512,128,20.0
H100,4096,256,4.0
"""


def plan_dict(**over) -> dict:
    """A two-bucket plan on A10G + H100 with a measured table (TABLE, as caps.csv); ``over``
    replaces fields."""
    return {
        "name": "t",
        "models": [
            {
                "name": "m",
                "rate_rps": 10,
                "traffic": {
                    "histogram": [
                        {"input_tokens": 512, "output_tokens": 128, "prob": 0.8},
                        {"input_tokens": 4096, "output_tokens": 256, "prob": 0.2},
                    ]
                },
            }
        ],
        "gpus": [{"name": "A10G"}, {"name": "H100"}],
        "capacity": {"table": "caps.csv"},
    } | over


def plan_app():
    """A bare typer app with only `capplan plan` registered."""
    import typer

    from planner import cli_plan

    a = typer.Typer()

    @a.callback()
    def main() -> None:
        """Test app."""

    cli_plan.register(a)
    return a


def independent_optimum(cfg: dict) -> float:
    """The continuous-split optimum of a Mélange config, proven with gap 0: min Σ c_g n_g with
    Σ_g y_bg = λ_b and Σ_b y_bg / κ_bg ≤ n_g, using only cells with κ ≥ 0.1% of the bucket's
    best (the documented "cannot serve" rule)."""
    names = list(cfg["gpu_info"])
    cost = np.array([cfg["gpu_info"][g]["cost"] for g in names])
    kap = np.stack([np.ravel(cfg["gpu_info"][g]["tputs"]) for g in names], axis=1)
    kap = np.where(kap >= 1e-3 * kap.max(axis=1, keepdims=True), kap, 0.0)
    lam = np.ravel(cfg["workload_distribution"]) * cfg["total_request_rate"]
    B, P = kap.shape
    bb, pp = np.nonzero((kap > 0) & (lam > 0)[:, None])
    nY = len(bb)
    route = sparse.csr_matrix((np.ones(nY), (bb, np.arange(nY))), shape=(B, nY + P))
    rows = np.concatenate([pp, np.arange(P)])
    cols = np.concatenate([np.arange(nY), nY + np.arange(P)])
    values = np.concatenate([1.0 / kap[bb, pp], -np.ones(P)])
    load = sparse.csr_matrix((values, (rows, cols)), shape=(P, nY + P))
    res = milp(
        np.concatenate([np.zeros(nY), cost]),
        constraints=[LinearConstraint(route, lam, lam), LinearConstraint(load, -np.inf, 0.0)],
        integrality=np.concatenate([np.zeros(nY), np.ones(P)]),
        bounds=Bounds(0, np.inf),
        options={"mip_rel_gap": 0.0},
    )
    assert res.status == 0 and res.mip_gap == 0.0
    return float(res.fun)
