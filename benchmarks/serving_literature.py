"""capplan's predicted max rate under SLO against published serving measurements.

Run:  python benchmarks/serving_literature.py [--markdown] [--sources] [--sensitivity]
                                              [--calibration default|ideal]
                                              [--engine matching|none]

Each setup below encodes, as data, one number a paper reports: the model, GPU, plan, scheduler,
request-length statistics and SLO of the experiment, the published value, where it was read
and how capplan approximates what it cannot express. The script runs
``planner.serving.max_rate_under_slo`` for each one and prints
setup | published | predicted | predicted / published.
Rows with unit "x" compare a ratio of two capacities (the paper gives no absolute number).
Setups, sources and a discussion of the ratios: docs/serving-literature.md.
"""

from __future__ import annotations

import argparse
import math
import platform
import warnings
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

import perfmodel as pm
from planner.serving import SLO, MaxRate, max_rate_under_slo
from planner.workload import Workload
from queueing import LogNormal

SAMPLES = 4096  # requests per synthetic workload (Workload.from_laws)
Z90 = 1.2815515655446004  # standard normal 90% quantile


# ---- workloads (request-length statistics as the papers report them) ----------------------
def lognormal_median_p90(median: float, p90: float) -> LogNormal:
    """Lognormal law with the given median and 90th percentile."""
    return LogNormal(math.log(median), math.log(p90 / median) / Z90)


def arena_chat() -> Workload:
    """Chatbot Arena / LMSYS-Chat-1M turns: mean 69.5 prompt and 214.5 response tokens
    (LMSYS-Chat-1M, Zheng et al. 2023, Table 1). Mélange gives the distribution only as a
    plot (its Fig. 10); the shapes (CV 1.5 in, 1.0 out) are our assumption."""
    law_in, law_out = LogNormal.from_mean_cv(69.5, 1.5), LogNormal.from_mean_cv(214.5, 1.0)
    return Workload.from_laws(law_in, law_out, n=SAMPLES, name="arena")


def openchat_sharegpt4() -> Workload:
    """Sarathi-Serve Table 2: prompt median 1730 / P90 5696, output median 415 / P90 834;
    requests longer than 8192 tokens in total removed (Sarathi-Serve Sec. 5)."""
    w = Workload.from_laws(
        lognormal_median_p90(1730, 5696),
        lognormal_median_p90(415, 834),
        n=SAMPLES,
        name="openchat_sharegpt4",
    )
    return w.restrict(w.input_tokens + w.output_tokens <= 8192)


WORKLOADS = {
    "fixed-512x64": lambda: Workload.fixed(512, 64),
    "fixed-512x1": lambda: Workload.fixed(512, 1),
    "fixed-250x250": lambda: Workload.fixed(250, 250),
    "fixed-500x250": lambda: Workload.fixed(500, 250),
    "fixed-1000x250": lambda: Workload.fixed(1000, 250),
    "chat": lambda: Workload.bundled("chat"),
    "arena": arena_chat,
    "openchat_sharegpt4": openchat_sharegpt4,
}


# ---- setups --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One capplan prediction: the max rate meeting every SLO in ``slos`` (each a dict of
    planner.serving.SLO fields), divided by ``gpus``."""

    model: str
    hardware: str
    workload: str
    slos: tuple[dict, ...]
    scheduler: dict = field(default_factory=lambda: {"kind": "continuous"})
    tp: int = 1
    gpus: int = 1
    engine: str = "vllm-0.2"  # every paper here measured vLLM 0.2-0.4 (or a fork of it)


@dataclass(frozen=True)
class Setup:
    """A published number and the capplan case(s) that predict it. With ``baseline`` set,
    the prediction is rate(case) / rate(baseline), compared with a published ratio."""

    name: str
    source: str
    how_read: str
    published: float
    unit: str
    case: Case
    baseline: Case | None = None
    bound: str = "="  # "=" a reading, ">=" a lower bound, "~" the middle of a range
    approx: str = ""


P90 = 0.9
DIST_SLO = ({"ttft_s": 0.4, "tpot_s": 0.04, "percentile": P90},)
DIST_SRC = "DistServe (Zhong et al., OSDI'24), Sec. 1 and Fig. 1"
DIST_HOW = "rate stated in Sec. 1 text; SLO lines (P90 TTFT 0.4 s, TPOT 0.04 s) read off Fig. 1"
DIST_APPROX = "OPT-13B -> llama-2-13b (same layers, width and MHA; gated vs plain MLP)"
MEL_SRC = "Mélange (Griggs et al. 2024), App. C, {tab}: {gpu}-only allocation at 32 req/s"
MEL_HOW = "32 req/s / {n} GPUs: a lower bound of the profiled per-GPU max rate"
MEL_APPROX = "avg-TPOT SLO -> capplan mean TPOT (Mélange's TPOT includes TTFT); Arena lengths"


def mean_tpot(seconds: float) -> tuple[dict, ...]:
    """Mélange's SLO: average time per output token (capplan: mean TPOT)."""
    return ({"tpot_s": seconds, "percentile": None},)


def distserve(name: str, published: float, case: Case, approx: str = "", how: str = "") -> Setup:
    """A DistServe Fig. 1 reading (13B model, one A100-80GB, 512 input / 64 output tokens)."""
    return Setup(
        name=f"DistServe 13B, A100, {name}",
        source=DIST_SRC,
        how_read=how or DIST_HOW,
        published=published,
        unit="req/s/GPU",
        case=case,
        approx=DIST_APPROX + approx,
    )


def melange(gpu: str, hardware: str, slo_ms: int, n: int, tab: str) -> Setup:
    """A Mélange single-GPU-type baseline: serving 32 req/s of Arena needs ``n`` GPUs."""
    return Setup(
        name=f"Mélange Llama-2-7B Arena, {gpu}, avg TPOT {slo_ms} ms",
        source=MEL_SRC.format(tab=tab, gpu=gpu),
        how_read=MEL_HOW.format(n=n),
        published=32 / n,
        unit="req/s/GPU",
        bound=">=",
        case=Case("llama-2-7b", hardware, "arena", mean_tpot(slo_ms / 1e3)),
        approx=MEL_APPROX,
    )


A100 = "A100-SXM4-80GB"
SARATHI_SLOS = ({"tbt_s": 0.1, "percentile": 0.99}, {"ttft_s": 2.0, "percentile": 0.5})

SETUPS = [
    distserve("vLLM colocated", 1.6, Case("llama-2-13b", A100, "fixed-512x64", DIST_SLO)),
    distserve(
        "prefill-only",
        5.6,
        Case("llama-2-13b", A100, "fixed-512x1", ({"ttft_s": 0.4, "percentile": P90},)),
        "; prefill-only = continuous batching of 1-token answers, TTFT SLO only",
    ),
    distserve(
        "decode-only",
        10.0,
        Case(
            "llama-2-13b",
            A100,
            "fixed-512x64",
            ({"tpot_s": 0.04, "percentile": P90},),
            {"kind": "disaggregated", "prefill_replicas": 4, "decode_replicas": 1},
        ),
        "; decode-only = 1 decode replica fed by 4 prefill replicas, TPOT SLO only",
    ),
    distserve(
        "2 prefill + 1 decode GPUs (ideal)",
        10 / 3,
        Case(
            "llama-2-13b",
            A100,
            "fixed-512x64",
            DIST_SLO,
            {"kind": "disaggregated", "prefill_replicas": 2, "decode_replicas": 1},
            gpus=3,
        ),
        how="10 rps on 3 GPUs = 3.3 rps/GPU, derived by the authors from the two rows above",
    ),
    melange("A10G", "A10G", 120, 39, "Table 3"),
    melange("A10G", "A10G", 40, 80, "Table 6"),
    melange("A100", A100, 120, 9, "Table 3"),
    melange("A100", A100, 40, 9, "Table 6"),
    Setup(
        name="Mélange Llama-2-7B 1000/250: A100 / A10G max rate",
        source="Mélange (Griggs et al. 2024), Sec. 4.4 and Fig. 9",
        how_read="2 A100 + 1 A10G serve a rate that needs 3 A100 or 12 A10G -> ratio in (5, 6)",
        published=5.5,
        unit="x",
        bound="~",
        case=Case("llama-2-7b", A100, "fixed-1000x250", mean_tpot(0.12)),
        baseline=Case("llama-2-7b", "A10G", "fixed-1000x250", mean_tpot(0.12)),
        approx="Fig. 9's SLO is not stated; we assume the 120 ms average TPOT of Sec. 6",
    ),
    Setup(
        name="Sarathi-Serve Mistral-7B, A100, openchat, strict: Sarathi / vLLM",
        source="Sarathi-Serve (Agrawal et al., OSDI'24), abstract and Sec. 5.1, Fig. 10",
        how_read="'2.6x higher serving capacity' than vLLM (up to; strict P99 TBT 0.1 s)",
        published=2.6,
        unit="x",
        bound="~",
        case=Case(
            "mistral-7b",
            A100,
            "openchat_sharegpt4",
            SARATHI_SLOS,
            {"kind": "chunked", "token_budget": 512, "max_num_seqs": 128},
        ),
        baseline=Case(
            "mistral-7b",
            A100,
            "openchat_sharegpt4",
            SARATHI_SLOS,
            {"kind": "continuous", "max_num_seqs": 128},
        ),
        approx=(
            "P99 of per-token TBT -> P99 of per-request TPOT (capplan has no per-token tail);"
            " 'median scheduling delay <= 2 s' -> median TTFT <= 2 s"
        ),
    ),
]


# ---- prediction ----------------------------------------------------------------------------
@cache
def workload(key: str) -> Workload:
    """The workload of a key (built once; from_laws is seeded, so runs are reproducible)."""
    return WORKLOADS[key]()


ENGINE = {"mode": "matching"}  # "matching": each case's engine profile; "none": GPU time only


def max_rate(case: Case, slo: dict, calibration: str) -> MaxRate:
    """planner.serving.max_rate_under_slo for one case and one SLO."""
    return max_rate_under_slo(
        case.model,
        case.hardware,
        workload(case.workload),
        SLO(**slo),
        plan=pm.Parallelism(tp=case.tp),
        scheduler=case.scheduler,
        calibration=calibration,
        engine=None if ENGINE["mode"] == "none" else case.engine,
    )


def predict_case(case: Case, calibration: str) -> tuple[float, float]:
    """(max rate meeting every SLO, capacity), both per GPU. Each SLO metric grows with the
    rate, so the highest rate meeting all of them is the smallest of the per-SLO maxima."""
    results = [max_rate(case, slo, calibration) for slo in case.slos]
    rate = min(r.rate for r in results)
    return rate / case.gpus, results[0].capacity / case.gpus


def predict(setup: Setup, calibration: str) -> tuple[float, float]:
    """(predicted value, predicted capacity value) of a setup, as a rate or a ratio."""
    rate, cap = predict_case(setup.case, calibration)
    if setup.baseline is None:
        return rate, cap
    base_rate, base_cap = predict_case(setup.baseline, calibration)
    return rate / base_rate, cap / base_cap


def rows(calibration: str) -> list[dict]:
    """One result row per setup."""
    out = []
    for i, s in enumerate(SETUPS, 1):
        value, cap = predict(s, calibration)
        out.append(
            {
                "#": i,
                "setup": s.name,
                "engine": "none" if ENGINE["mode"] == "none" else s.case.engine,
                "unit": s.unit,
                "published": f"{'' if s.bound == '=' else s.bound}{s.published:.3g}",
                "predicted": f"{value:.3g}",
                "capacity": f"{cap:.3g}",
                "pred/pub": f"{value / s.published:.2f}",
            }
        )
    return out


# ---- sensitivity to the two weakest inputs -------------------------------------------------
def sensitivity(calibration: str) -> list[dict]:
    """DistServe row 1 under other SLO readings; Mélange rows under other request lengths."""
    out = []
    for ttft, tpot in ((0.4, 0.04), (0.2, 0.04), (0.4, 0.02), (0.4, 0.06), (0.25, 0.1)):
        slo = ({"ttft_s": ttft, "tpot_s": tpot, "percentile": P90},)
        value, _ = predict(replace(SETUPS[0], case=replace(SETUPS[0].case, slos=slo)), calibration)
        variant = f"DistServe row 1, P90 TTFT {ttft} s / TPOT {tpot} s"
        out.append({"variant": variant, "row 1": f"{value:.3g} ({value / 1.6:.2f})"})
    for key in ("arena", "chat", "fixed-250x250", "fixed-500x250", "fixed-1000x250"):
        w = workload(key)
        row = {
            "variant": f"Mélange rows 5-8, lengths {key} ({w.mean_input:.0f}/{w.mean_output:.0f})"
        }
        for i, s in enumerate(SETUPS[4:8], 5):
            value, _ = predict(replace(s, case=replace(s.case, workload=key)), calibration)
            row[f"row {i}"] = f"{value:.3g} ({value / s.published:.2f})"
        out.append(row)
    return out


# ---- output --------------------------------------------------------------------------------
def columns(table: list[dict]) -> list[str]:
    """Column names in first-seen order."""
    return list(dict.fromkeys(c for r in table for c in r))


def render_text(table: list[dict]) -> str:
    """Fixed-width table (missing cells blank)."""
    cols = columns(table)
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in table)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in table]
    return "\n".join(lines)


def render_markdown(table: list[dict]) -> str:
    """GitHub-flavoured markdown table (missing cells blank)."""
    cols = columns(table)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in table]
    return "\n".join(lines)


def render_sources() -> str:
    """Source, reading and approximation of every setup."""
    return "\n".join(
        f"{i}. {s.source}; {s.how_read}. Approximation: {s.approx or 'none'}."
        for i, s in enumerate(SETUPS, 1)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--calibration", default="default", help="'default' or 'ideal'")
    ap.add_argument("--sources", action="store_true", help="also list sources per row")
    ap.add_argument("--sensitivity", action="store_true", help="also vary lengths and SLOs")
    ap.add_argument(
        "--engine",
        default="matching",
        choices=["matching", "none"],
        help="each row's engine profile (matching) or GPU time only (none)",
    )
    args = ap.parse_args()
    ENGINE["mode"] = args.engine
    np.seterr(invalid="ignore")
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    render = render_markdown if args.markdown else render_text
    print(render(rows(args.calibration)))
    if args.sources:
        print("\n" + render_sources())
    if args.sensitivity:
        print("\nvalue (predicted / published)\n" + render(sensitivity(args.calibration)))
    machine = f"{platform.platform()}  python {platform.python_version()}"
    print(f"\ncalibration={args.calibration}  engine={args.engine}  {machine}")


if __name__ == "__main__":
    main()
