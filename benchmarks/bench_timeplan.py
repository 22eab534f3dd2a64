"""How long a plan over time takes: examples/daily_curve.yaml over a day (24 hourly periods)
and over a week (168: weekdays as the example, Saturday at 0.6x, Sunday at 0.5x).

Run:  python benchmarks/bench_timeplan.py

Prints the periods and how many distinct ones the MILP plans (equal rates merged,
planner.mix.overtime.distinct_periods), wall-clock seconds of ``plan_over_time``, the monthly
cost, its proof and the saving against one fleet sized for the peak.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import yaml
from machine import cpu_name

from planner.mix import plan_over_time, validate_plan
from planner.mix.curves import curves, prices
from planner.mix.overtime import distinct_periods

EXAMPLE = Path(__file__).parents[1] / "examples" / "daily_curve.yaml"
WEEK = (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5)  # Monday..Sunday, multiples of the daily curve


def spec(days: tuple[float, ...]):
    """The example plan with its daily curve repeated over ``days`` (multipliers)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    curve = data["models"][0]["rate_curve"]
    day = curve["rates_rps"]
    curve["rates_rps"] = [r * f for f in days for r in day]
    data["base_dir"] = str(EXAMPLE.parent)
    return validate_plan(data)


def main() -> None:
    print(f"machine: {cpu_name()}, Python {platform.python_version()}")
    print(f"{'case':<6} {'periods':>7} {'distinct':>8} {'seconds':>8} {'$/month':>10}  "
          "proof; saving vs peak")  # fmt: skip
    for label, days in (("day", (1.0,)), ("week", WEEK)):
        s = spec(days)
        start = time.perf_counter()
        tp = plan_over_time(s)
        took = time.perf_counter() - start
        saving = tp.saving_pct("peak")
        distinct = distinct_periods(curves(s), prices(s), s.schedule.month_hours)[0].periods
        print(
            f"{label:<6} {24 * len(days):>7} {distinct:>8} {took:>8.1f} "
            f"{tp.usd_per_month:>10,.0f}  {tp.proof}; {saving:.1f}%"
        )


if __name__ == "__main__":
    main()
