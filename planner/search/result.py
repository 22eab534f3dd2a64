"""SearchResult: every screened plan, the re-evaluated best, frontiers, pruning reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .commands import vllm_commands
from .objectives import FRONTIERS, OBJECTIVES, frontier

#: columns a ranked-plan table shows first (the rest follow)
SHOWN = (
    "mode",
    "gpu",
    "quant",
    "tp",
    "pp",
    "ep",
    "prefill_tp",
    "prefill_pp",
    "prefill_replicas",
    "decode_replicas",
    "max_num_seqs",
    "token_budget",
    "gpus",
    "rate_rps",
    "tokens_per_s_per_gpu",
    "tokens_per_s_per_user",
    "ttft_s",
    "tpot_s",
    "usd_per_mtok",
    "energy_j_per_token",
    "binding",
)
HIDDEN = ("instance", "prefill_instance")


@dataclass
class SearchResult:
    """``plans``: every screened plan (screen figures); ``top``: the re-evaluated plans
    ranked by the full model (``screen_*`` columns keep the screen's figures);
    ``pruned``: instance configurations removed per reason."""

    model: str
    workload: str
    slo: object
    objective: str
    target_rate: float | None
    plans: pd.DataFrame
    top: pd.DataFrame
    pruned: dict[str, int]
    pruned_examples: dict[str, str]
    screen_s: float
    full_s: float
    engine: str | None
    instances: list = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def n_plans(self) -> int:
        return len(self.plans)

    @property
    def feasible(self) -> bool:
        """Whether the full model found a plan that meets the SLO."""
        return bool(len(self.top) and self.top["feasible"].iloc[0])

    @property
    def best(self) -> dict:
        """The best plan (full model) as a record; raises when none meets the SLO."""
        if not self.feasible:
            raise ValueError(self.infeasible_reason())
        return self.top.iloc[0].to_dict()

    def to_frame(self) -> pd.DataFrame:
        """The re-evaluated plans, best first, with every metric and the binding constraint."""
        cols = [c for c in SHOWN if c in self.top] + [
            c for c in self.top.columns if c not in SHOWN and c not in HIDDEN
        ]
        return self.top[cols]

    def frontier(self, name: str, tier: str = "screen") -> pd.DataFrame:
        """Pareto set ``name`` (objectives.FRONTIERS) over every screened plan ('screen') or
        over the re-evaluated plans ('full')."""
        if name not in FRONTIERS:
            raise ValueError(f"unknown frontier {name!r}; choose {', '.join(FRONTIERS)}")
        frame = self.plans if tier == "screen" else self.top
        return frontier(frame, name).drop(columns=list(HIDDEN), errors="ignore")

    def best_by_gpu(self) -> pd.DataFrame:
        """Per GPU type, the best figures any plan reaches (lowest zero-load TTFT and TPOT,
        highest screened rate): what to relax when no plan meets the SLO."""
        g = self.plans.groupby("gpu")
        return pd.DataFrame(
            {
                "best_ttft_s": g["ttft_s"].min(),
                "best_tpot_s": g["tpot_s"].min(),
                "plans_meeting_slo": g["feasible"].sum(),
            }
        ).sort_values("best_tpot_s")

    def infeasible_reason(self) -> str:
        """Why no plan meets the SLO, with the best achievable figures per GPU type."""
        slo = ", ".join(f"{k} {v * 1e3:g} ms" for k, v in self.slo.targets().items())
        best = self.best_by_gpu().head(5)
        figs = "; ".join(
            f"{gpu}: TTFT {r.best_ttft_s * 1e3:.0f} ms, TPOT {r.best_tpot_s * 1e3:.1f} ms"
            for gpu, r in best.iterrows()
        )
        return f"no plan meets the SLO ({slo}); best achievable per GPU type: {figs}"

    def screen_agreement(self) -> dict:
        """How the screen's rate compares with the full model's on the re-evaluated plans:
        median and 10-90% range of screen/full, and the share the screen overstates."""
        t = self.top[self.top["feasible"] & (self.top["rate_rps"] > 0)]
        if t.empty:
            return {"plans": 0}
        r = (t["screen_rate_rps"] / t["rate_rps"]).to_numpy()
        return {
            "plans": int(r.size),
            "median_screen_over_full": float(np.median(r)),
            "p10": float(np.quantile(r, 0.1)),
            "p90": float(np.quantile(r, 0.9)),
            "share_screen_optimistic": float((r > 1).mean()),
        }

    def vllm_commands(self, rank: int = 0, memory_utilization: float = 0.9) -> list[str]:
        """Command lines that deploy the plan at ``rank`` (0: the best)."""
        return vllm_commands(self.to_frame().iloc[rank].to_dict(), self.model, memory_utilization)

    def to_dict(self) -> dict:
        """JSON-safe summary: the search, pruning, timings, the ranked plans and frontiers; the
        dashboard contract is ``planner.report.schema.SearchReport``, its version in
        ``schema_version``."""
        from planner.report.schema import SCHEMA_VERSION

        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "workload": self.workload,
            "slo": self.slo.model_dump(),
            "objective": self.objective,
            "objective_column": OBJECTIVES[self.objective][0],
            "target_rate": self.target_rate,
            "engine": self.engine,
            "plans_screened": self.n_plans,
            "plans_meeting_slo_screen": int(self.plans["feasible"].sum()),
            "pruned": self.pruned,
            "notes": self.notes,
            "screen_s": self.screen_s,
            "full_s": self.full_s,
            "screen_agreement": self.screen_agreement(),
            "top": json_records(self.to_frame()),
            "frontiers": {n: json_records(self.frontier(n)) for n in FRONTIERS},
            "best_commands": self.vllm_commands() if self.feasible else [],
        }


def json_records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-safe dicts (numpy scalars to Python, inf / NaN to None)."""
    out = []
    for rec in frame.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            v = v.item() if isinstance(v, np.generic) else v
            clean[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        out.append(clean)
    return out
