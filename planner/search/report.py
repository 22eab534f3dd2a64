"""Files of a search: an offline HTML report (frontier plots, ranked plans, pruning, the
winner's command lines), the JSON summary and CSV tables. The folder is written whole and
moved into place (:mod:`planner.outdir`), so an interrupted run leaves no half-written file."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from planner.outdir import write_folder
from planner.output import strict_json

from .objectives import FRONTIERS
from .result import SearchResult

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f4f4f4; } pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; }
"""
LABELS = {
    "tokens_per_s_per_user": "output tokens/s per user (1/TPOT)",
    "tokens_per_s_per_gpu": "output tokens/s per GPU",
    "ttft_s": "TTFT (s)",
    "usd_per_mtok": "$ per 1M output tokens",
}


def frontier_figure(res: SearchResult, name: str) -> go.Figure:
    """Every screened plan (grey, subsampled to 5,000 points) and the Pareto set per mode, with
    the re-evaluated plans' full-model figures on top."""
    xc, _, yc, _ = FRONTIERS[name]
    ok = res.plans[res.plans["feasible"] & (res.plans["rate_rps"] > 0)]
    cloud = ok.sample(min(len(ok), 5000), random_state=0) if len(ok) else ok
    fig = go.Figure()
    fig.add_scattergl(
        x=cloud[xc], y=cloud[yc], mode="markers", name="screened plans",
        marker={"size": 3, "color": "#bbb"},
    )  # fmt: skip
    front = res.frontier(name)
    for mode, part in front.groupby("mode"):
        text = part.apply(_label, axis=1)
        fig.add_scatter(x=part[xc], y=part[yc], mode="lines+markers", name=f"frontier ({mode})",
                        text=text, hovertemplate="%{text}<extra></extra>")  # fmt: skip
    full = res.top[res.top["feasible"]]
    fig.add_scatter(x=full[xc], y=full[yc], mode="markers", name="full model (top plans)",
                    marker={"symbol": "x", "size": 8}, text=full.apply(_label, axis=1),
                    hovertemplate="%{text}<extra></extra>")  # fmt: skip
    fig.update_layout(
        title=name.replace("_", " "),
        xaxis_title=LABELS[xc],
        yaxis_title=LABELS[yc],
        template="plotly_white",
    )
    if name == "cost_vs_ttft":
        fig.update_yaxes(type="log")
    return fig


def _label(row) -> str:
    if row["mode"] == "aggregated":
        return f"{row['gpu']} tp{row['tp']} pp{row['pp']} {row['quant']} seqs {row['max_num_seqs']}"
    return (
        f"{row['gpu']} {row['prefill_replicas']}P(tp{row['prefill_tp']})"
        f"{row['decode_replicas']}D(tp{row['tp']}) {row['quant']}"
    )


def render_html(res: SearchResult, rows: int = 25) -> str:
    """The report as one self-contained HTML document (plotly.js embedded once)."""
    agree = res.screen_agreement()
    slo = ", ".join(f"{k} {v * 1e3:g} ms" for k, v in res.slo.targets().items())
    head = [
        ("model / workload", f"{res.model} / {res.workload}"),
        ("SLO", f"{slo} ({res.slo.stat})"),
        ("objective", res.objective),
        ("plans screened", f"{res.n_plans:,} in {res.screen_s:.2f} s"),
        ("re-evaluated (full model)", f"{len(res.top)} in {res.full_s:.2f} s"),
        ("pruned configurations", ", ".join(f"{k}: {v}" for k, v in res.pruned.items()) or "none"),
        ("screen / full rate (median)", f"{agree.get('median_screen_over_full', 0):.3f}"),
    ]  # fmt: skip
    head += [("note", note) for note in res.notes]
    parts = [f"<h1>Plan search: {html.escape(res.model)}</h1>", _table(pd.DataFrame(head))]
    if res.feasible:
        cmds = "\n".join(res.vllm_commands())
        parts += ["<h2>Best plan: deploy it</h2>", f"<pre>{html.escape(cmds)}</pre>"]
    else:
        parts.append(f"<p><b>{html.escape(res.infeasible_reason())}</b></p>")
    parts += ["<h2>Ranked plans (full serving model)</h2>", _table(res.to_frame().head(rows))]
    figs = [frontier_figure(res, n) for n in FRONTIERS]
    parts.append("<h2>Frontiers</h2>")
    parts += [
        f.to_html(full_html=False, include_plotlyjs=(k == 0), config={"displaylogo": False})
        for k, f in enumerate(figs)
    ]
    body = "\n".join(parts)
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>{body}</body></html>"  # noqa: E501


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(
        index=False, header=frame.columns.dtype != "int64", border=0, na_rep="",
        float_format=lambda v: f"{v:,.4g}",
    )  # fmt: skip


def write_search(res: SearchResult, out_dir: str | Path) -> dict[str, Path]:
    """Write search.html, search.json, plans.csv (re-evaluated) and one CSV per frontier
    into ``out_dir`` (a temporary folder moved into place: see :mod:`planner.outdir`);
    returns name -> path."""
    texts = {
        "search.html": render_html(res),
        "search.json": strict_json(res.to_dict()),
        "plans.csv": res.to_frame().to_csv(index=False),
    }
    for name in FRONTIERS:
        texts[f"frontier_{name}.csv"] = res.frontier(name).to_csv(index=False)
    return write_folder(out_dir, texts, "search", known=texts)
