"""Benchmark and agreement report for the ``queueing`` package.

    python benchmarks/bench_queueing.py               # simulator speed + closed-form timings
    python benchmarks/bench_queueing.py --agreement   # every model vs simulation (markdown)

The speed table reports customers/s of the vectorised M/G/1 simulator (sampling included)
and the wall time of one evaluation of each analytic model (best of several repeats).
The agreement table runs each model against the simulator at several loads and prints the
model value, the simulated mean ± its batch-means standard error, z = (model - sim)/se and
the relative error; docs/queueing.md embeds its output.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from collections.abc import Callable

import numpy as np

import queueing as q


def _machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln), "?"
        )
    except OSError:
        model = platform.processor() or "?"
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


def _best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def simulator_speed(n: int = 2_000_000) -> list[tuple[str, float]]:
    """Customers per second of simulate_mg1 (arrival + service sampling included)."""
    laws = {
        "Exponential": q.Exponential(1.0),
        "Gamma(0.5)": q.Gamma(0.5, 1.0),
        "LogNormal(cv=1)": q.LogNormal.from_mean_cv(1.0, 1.0),
        "Deterministic": q.Deterministic(1.0),
    }
    return [
        (name, n / _best_time(lambda law=law: q.simulate_mg1(0.9, law, n, rng=1), 3))
        for name, law in laws.items()
    ]


def closed_form_timings() -> list[tuple[str, float]]:
    """Seconds per evaluation of each analytic model (fresh object each time)."""
    lin = q.linear_batch_time(0.1, 0.5)
    it = q.linear_batch_time(0.005, 0.02)
    gam = q.Gamma(0.5, 1.0)
    cases: dict[str, Callable[[], object]] = {
        "MG1.mean_wait (Pollaczek–Khinchine)": lambda: q.MG1(0.8, gam).mean_wait,
        "MG1.wait_moment2 (Takács)": lambda: q.MG1(0.8, gam).wait_moment2,
        "MG1 M/M/1 wait_quantile(0.99)": lambda: q.MG1(0.8, q.Exponential(1.0)).wait_quantile(0.99),
        "MG1 M/D/1 wait_quantile(0.99) (Erlang, mpmath)": lambda: q.MG1(
            0.8, q.Deterministic(1.0)
        ).wait_quantile(0.99),
        "MG1 Gamma wait_quantile(0.99) (Euler inversion)": lambda: q.MG1(0.8, gam).wait_quantile(
            0.99
        ),
        "erlang_c(64, 60)": lambda: q.erlang_c(64, 60.0),
        "MMc(60, 1, 64).mean_wait": lambda: q.MMc(60.0, 1.0, 64).mean_wait,
        "MGc Allen–Cunneen (c=8)": lambda: q.MGc(7.0, gam, 8).mean_wait,
        "MDc(3.6, 1, 4).mean_wait (Crommelin chain)": lambda: q.MDc(3.6, 1.0, 4).mean_wait,
        "MaxTokenQueue.optimal_limit (8 limits)": lambda: q.MaxTokenQueue(
            1.5, q.Empirical([20, 50, 80, 120, 200, 300, 600, 2000]), 0.002, 0.05
        ).optimal_limit(np.log1p, 2.0),
        "ImpatientMG1 (M/G/1+D, Gamma)": lambda: q.ImpatientMG1(0.9, gam, 2.0).loss_probability,
        "BulkMMK(3.6, 1, 4).mean_wait": lambda: q.BulkMMK(3.6, 1.0, 4).mean_wait,
        "BaileyBulk roots formula (b=8, Gamma)": lambda: (
            q.BaileyBulk(6.0, q.Gamma(2.0, 1.0), 8).mean_wait
        ),
        "DynamicBatching b=8 (embedded chain)": lambda: q.DynamicBatching(4.0, lin, 8).mean_wait,
        "Elastic batching (embedded chain)": lambda: q.DynamicBatching(8.0, lin).mean_wait,
        "FixedBatching b=4 (embedded chain)": lambda: q.FixedBatching(3.0, lin, 4).mean_wait,
        "ContinuousBatching B=8, m=20": lambda: q.ContinuousBatching(5.0, it, 20.0, 8).mean_sojourn,
        "PriorityMG1 (3 classes, preemptive)": lambda: (
            q.PriorityMG1([0.3, 0.3, 0.3], [gam, gam, gam], True).mean_sojourn
        ),
        "SJF (Gamma)": lambda: q.SJF(0.8, gam).mean_sojourn,
        "SRPT (Gamma)": lambda: q.SRPT(0.8, gam).mean_sojourn,
        "ProcessorSharing": lambda: q.ProcessorSharing(0.8, gam).mean_sojourn,
    }
    return [(name, _best_time(fn)) for name, fn in cases.items()]


# --- agreement -----------------------------------------------------------------------------
Row = tuple[str, str, float, float, q.SimEstimate]


def _mg1_rows() -> list[Row]:
    rows = []
    laws = {
        "Exp": q.Exponential(1.0),
        "Det": q.Deterministic(1.0),
        "Gamma(0.5)": q.Gamma(0.5, 1.0),
        "LogN(cv=1)": q.LogNormal.from_mean_cv(1.0, 1.0),
        "LogN(cv=2).clip(4)": q.LogNormal.from_mean_cv(1.0, 2.0).clip(4.0),
    }
    for name, law in laws.items():
        for rho in (0.5, 0.8, 0.95):
            lam = rho / law.mean
            model = q.MG1(lam, law)
            run = q.simulate_mg1(lam, law, 2_000_000, rng=1)
            rows.append((f"M/G/1 {name}", "mean wait", rho, model.mean_wait, run.mean_wait()))
            p99 = model.wait_quantile(0.99)
            rows.append((f"M/G/1 {name}", "P(W<=p99)", rho, 0.99, run.wait_cdf(p99)))
    return rows


def _multiserver_rows() -> list[Row]:
    rows = []
    for c, rho in ((4, 0.8), (4, 0.95)):
        lam = rho * c
        mmc = q.MMc(lam, 1.0, c)
        run = q.simulate_mgc(lam, q.Exponential(1.0), c, 1_000_000, rng=2)
        rows.append((f"M/M/{c}", "mean wait", rho, mmc.mean_wait, run.mean_wait()))
        mdc = q.MDc(lam, 1.0, c)
        run = q.simulate_mgc(lam, q.Deterministic(1.0), c, 1_000_000, rng=2)
        rows.append((f"M/D/{c} exact", "mean wait", rho, mdc.mean_wait, run.mean_wait()))
        rows.append(
            (
                f"M/D/{c} Allen–Cunneen",
                "mean wait",
                rho,
                q.MGc(lam, q.Deterministic(1.0), c).mean_wait,
                run.mean_wait(),
            )
        )
        gam = q.Gamma(0.5, 1.0)
        run = q.simulate_mgc(lam, gam, c, 1_000_000, rng=2)
        for method in ("allen_cunneen", "kingman"):
            rows.append(
                (
                    f"M/G/{c} Gamma(0.5) {method}",
                    "mean wait",
                    rho,
                    q.MGc(lam, gam, c, method).mean_wait,
                    run.mean_wait(),
                )
            )
    return rows


def _clipping_rows() -> list[Row]:
    rows = []
    tokens = q.LogNormal.from_mean_cv(200.0, 2.0)
    for rho in (0.5, 0.9):
        law = q.token_service(tokens, 0.001, 0.02, 800.0)
        lam = rho / law.mean
        model = q.MaxTokenQueue(lam, tokens, 0.001, 0.02)
        run = q.simulate_mg1(lam, law, 1_000_000, rng=3)
        rows.append(
            ("max-token clip L=800", "mean wait", rho, model.mean_wait(800.0), run.mean_wait())
        )
    for law, rho, tau in (
        (q.Exponential(1.0), 1.5, 2.0),
        (q.Deterministic(1.0), 0.9, 3.0),
        (q.Gamma(0.5, 1.0), 1.3, 4.0),
        (q.Exponential(1.0), 3.0, 20.0),
    ):
        lam = rho / law.mean
        model = q.ImpatientMG1(lam, law, tau)
        run = q.simulate_mg1_impatient(lam, law, tau, 400_000, rng=4)
        rows.append(
            (
                f"M/G/1+D {law.name} τ={tau}",
                "P(loss)",
                rho,
                model.loss_probability,
                run.loss_probability(),
            )
        )
        rows.append(
            (
                f"M/G/1+D {law.name} τ={tau}",
                "served wait",
                rho,
                model.mean_wait,
                run.mean_wait_served(),
            )
        )
    return rows


def _batch_rows() -> list[Row]:
    rows = []
    lin = q.linear_batch_time(0.1, 0.5)
    for rho in (0.5, 0.8, 0.95):
        m = q.DynamicBatching(rho * 8 / 1.3, lin, 8)
        run = q.simulate_batching(m.arrival_rate, lin, "dynamic", 8, 400_000, rng=5)
        rows.append(
            (
                "dynamic b=8, t=0.1b+0.5 (Inoue)",
                "mean sojourn",
                rho,
                m.mean_sojourn,
                run.mean_sojourn(),
            )
        )
        m = q.DynamicBatching(rho * 10.0, lin)
        run = q.simulate_batching(m.arrival_rate, lin, "dynamic", None, 400_000, rng=5)
        rows.append(
            ("elastic, t=0.1b+0.5", "mean sojourn", rho, m.mean_sojourn, run.mean_sojourn())
        )
        m = q.FixedBatching(rho * 4 / 0.9, lin, 4)
        run = q.simulate_batching(m.arrival_rate, lin, "fixed", 4, 400_000, rng=5)
        rows.append(
            ("fixed b=4, t=0.1b+0.5", "mean sojourn", rho, m.mean_sojourn, run.mean_sojourn())
        )
        m = q.BaileyBulk(rho * 4, q.Gamma(2.0, 1.0), 4)
        run = q.simulate_batching(m.arrival_rate, m.batch_law, "bailey", 4, 400_000, rng=5)
        rows.append(
            ("Bailey M/G^[4]/1 Gamma(2) roots", "mean wait", rho, m.mean_wait, run.mean_wait())
        )
        m = q.BulkMMK(rho * 4, 1.0, 4)
        est = q.simulate_bulk_mmk(m.arrival_rate, 1.0, 4, 2_000_000, rng=5)
        rows.append(("M/M^[4]/1 root formula", "mean number", rho, m.mean_number, est))
        it = q.linear_batch_time(0.005, 0.02)
        m = q.ContinuousBatching(rho * 8 / 1.2, it, 20.0, 8)
        run = q.simulate_continuous_batching(
            m.arrival_rate, it, q.Geometric(20.0), 8, 60_000, rng=5
        )
        rows.append(
            ("continuous B=8, m=20", "mean sojourn", rho, m.mean_sojourn, run.mean_sojourn())
        )
    return rows


def _discipline_rows() -> list[Row]:
    rows = []
    gam = q.Gamma(0.5, 1.0)
    for rho in (0.5, 0.8, 0.95):
        for pre in (False, True):
            rates = [rho / 3] * 3
            m = q.PriorityMG1(rates, [gam] * 3, pre)
            runs = q.simulate_priority(rates, [gam] * 3, pre, 400_000, rng=6)
            label = "preemptive" if pre else "non-preemptive"
            for i in (0, 2):
                rows.append(
                    (
                        f"priority {label} class {i}",
                        "mean sojourn",
                        rho,
                        m.class_mean_sojourn[i],
                        runs[i].mean_sojourn(),
                    )
                )
        for name, cls in (("sjf", q.SJF), ("srpt", q.SRPT), ("ps", q.ProcessorSharing)):
            run = q.simulate_discipline(rho, gam, name, 400_000, rng=6)
            rows.append(
                (
                    f"{name.upper()} Gamma(0.5)",
                    "mean sojourn",
                    rho,
                    cls(rho, gam).mean_sojourn,
                    run.mean_sojourn(),
                )
            )
    return rows


def agreement_table() -> str:
    rows = _mg1_rows() + _multiserver_rows() + _clipping_rows() + _batch_rows()
    rows += _discipline_rows()
    lines = [
        "| model | quantity | ρ | model | simulation ± se | z | rel. error |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, what, rho, value, est in rows:
        rel = (value - est.mean) / est.mean if est.mean else float("nan")
        lines.append(
            f"| {name} | {what} | {rho:.2f} | {value:.5g} | {est.mean:.5g} ± {est.se:.2g} "
            f"| {est.z(value):+.2f} | {rel:+.2%} |"
        )
    return "\n".join(lines)


def speed_report() -> str:
    lines = [
        f"Machine: {_machine()}",
        "",
        "| M/G/1 simulator (2e6 customers, ρ=0.9) | customers/s |",
    ]
    lines.append("|---|---|")
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in simulator_speed()]
    lines += ["", "| closed form / numeric model | time per evaluation |", "|---|---|"]
    lines += [f"| {name} | {sec * 1e3:.3f} ms |" for name, sec in closed_form_timings()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreement", action="store_true", help="models vs simulation table")
    args = parser.parse_args()
    print(agreement_table() if args.agreement else speed_report())


if __name__ == "__main__":
    main()
