"""Write a plan's report files: HTML (self-contained), Markdown, JSON and CSV.

The whole folder is rendered first and then written through :func:`planner.outdir.write_folder`
(a temporary folder moved into place), so a failed or concurrent run never leaves a mixed or
half-written report and a rerun removes the files it no longer writes (e.g. ``issues.csv``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planner.mix.result import Allocation, _json_safe
from planner.outdir import ReportFiles, write_folder
from planner.output import strict_json
from planner.report.html import render_html
from planner.report.markdown import render_markdown

#: key -> file name of every file a plan report may hold
FILES = {
    "html": "plan.html",
    "markdown": "plan.md",
    "json": "plan.json",
    "allocation": "allocation.csv",
    "routing": "routing.csv",
    "baselines": "baselines.csv",
    "issues": "issues.csv",
    "cost_vs_rate": "cost_vs_rate.csv",
    "cost_vs_slo": "cost_vs_slo.csv",
}


def write_report(
    alloc: Allocation,
    out_dir: str | Path,
    rate_sweep: pd.DataFrame | None = None,
    slo_sweep: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write ``plan.html``, ``plan.md``, ``plan.json`` and the CSV tables into ``out_dir``;
    returns name -> path of every file written (a :class:`planner.outdir.ReportFiles`, whose
    ``note`` says when ``out_dir`` held other files and was written file by file)."""
    payload = alloc.to_dict()
    for key, frame in (("cost_vs_rate", rate_sweep), ("cost_vs_slo", slo_sweep)):
        if frame is not None:
            payload[key] = _json_safe(frame.to_dict(orient="records"))
    texts = {
        "html": render_html(alloc, rate_sweep, slo_sweep),
        "markdown": render_markdown(alloc, rate_sweep, slo_sweep),
        "json": strict_json(payload),
        "allocation": alloc.to_frame().to_csv(index=False),
        "routing": alloc.routing.to_csv(index=False),
        "baselines": alloc.baselines_frame().to_csv(index=False),
    }
    if alloc.issues:
        texts["issues"] = alloc.issues_frame().to_csv(index=False)
    for key, frame in (("cost_vs_rate", rate_sweep), ("cost_vs_slo", slo_sweep)):
        if frame is not None:
            texts[key] = frame.to_csv(index=False)
    written = write_folder(
        out_dir, {FILES[k]: t for k, t in texts.items()}, "plan", known=FILES.values()
    )
    files = ReportFiles({k: written[FILES[k]] for k in texts})
    files.note = written.note
    return files
