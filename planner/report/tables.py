"""Display tables of a plan (boundary units: $/h, req/s, %, ms) shared by the HTML, Markdown
and console renderings."""

from __future__ import annotations

import math

import pandas as pd

from planner.mix.result import Allocation


def _ms(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else 1e3 * value


def pools_table(alloc: Allocation) -> pd.DataFrame:
    """One row per (model, pool): replicas, GPUs, $/h, req/s, utilization, TTFT/TPOT in ms."""
    f = alloc.to_frame()
    out = pd.DataFrame(
        {
            "model": f.model,
            "pool": f.pool,
            "replicas": f.replicas,
            "GPUs": f.gpus,
            "$/h": f.usd_per_hour,
            "req/s": f.rate_rps,
            "util %": 100 * f.utilization,
        }
    )
    if f.ttft_s.notna().any():
        out["TTFT ms"] = [_ms(v) for v in f.ttft_s]
        out["TPOT ms"] = [_ms(v) for v in f.tpot_s]
    return out


def routing_table(alloc: Allocation) -> pd.DataFrame:
    """The load-balancer config: bucket, its rate, pool and share of its requests."""
    r = alloc.routing
    return pd.DataFrame(
        {
            "model": r.model,
            "bucket": r.bucket,
            "req/s": r.rate_rps,
            "pool": r.pool,
            "share %": 100 * r.weight,
        }
    )


def baselines_table(alloc: Allocation) -> pd.DataFrame:
    """Single-type plans: $/h, GPUs, mix savings (or why infeasible)."""
    b = alloc.baselines_frame()
    out = pd.DataFrame({"GPU type": b.gpu, "$/h": b.usd_per_hour, "GPUs": b.gpus})
    if "savings_pct" in b:
        out["mix saves %"] = b.savings_pct
    out["proof"] = b.proof
    out["note"] = b.reason.fillna("")
    return out


def headroom_table(alloc: Allocation) -> pd.DataFrame:
    """The stated headroom and the $/h (and share of the plan) each adds."""
    h = alloc.headroom_frame()
    out = pd.DataFrame({"headroom": h.kind, "setting": h.setting, "adds $/h": h.usd_per_hour})
    if alloc.usd_per_hour:
        out["share of the plan %"] = 100 * h.usd_per_hour.astype(float) / alloc.usd_per_hour
    out["proof"] = h.proof
    return out


def slices_table(alloc: Allocation) -> pd.DataFrame:
    """Mélange's slice formulation at each slice factor against the continuous split."""
    rows = []
    for s in alloc.slices:
        extra = None
        if s.feasible and alloc.feasible and alloc.usd_per_hour:
            extra = 100 * (s.usd_per_hour - alloc.usd_per_hour) / alloc.usd_per_hour
        gpus = ", ".join(f"{n} x {g}" for g, n in s.gpus_by_type.items() if n)
        rows.append(
            {
                "slice factor": s.slice_factor,
                "$/h": s.usd_per_hour,
                "GPUs": gpus,
                "costlier than split %": extra,
                "proof": s.proof,
            }
        )
    return pd.DataFrame(rows)


def headline(alloc: Allocation) -> list[tuple[str, str]]:
    """Key figures as (label, value) pairs."""
    if not alloc.feasible:
        return [("status", f"infeasible ({alloc.status})")]
    rows = [
        ("cost", f"${alloc.usd_per_hour:,.2f}/h (${alloc.usd_per_hour * 730:,.0f}/month)"),
        ("GPUs", ", ".join(f"{n} x {g}" for g, n in alloc.gpus_by_type.items() if n)),
    ]
    best = alloc.best_single
    if best is not None and alloc.savings_pct is not None and alloc.savings_pct < 0.05:
        rows.append(("vs best single type", f"{best.gpu} alone is as cheap"))
    elif best is not None and alloc.savings_pct is not None:
        rows.append(
            (
                "vs best single type",
                f"{alloc.savings_pct:.1f}% cheaper than {best.gpu} alone "
                f"(${best.usd_per_hour:,.2f}/h)",
            )
        )
    if alloc.cost_per_1m_tokens is not None:
        rows.append(("cost per 1M tokens", f"${alloc.cost_per_1m_tokens:.4f} (input + output)"))
    for m in alloc.models:
        rows.append(
            (
                f"model {m.name}",
                f"{m.rate_rps:.4g} req/s offered, {m.planned_rate_rps:.4g} planned; "
                f"SLO {m.slo or 'none'}",
            )
        )
    rows.append(("capacity", alloc.capacity_source))
    rows.append(
        ("solver", f"{alloc.solver}, {alloc.proof or alloc.status}, {alloc.solve_time_s:.2f} s")
    )
    return rows
