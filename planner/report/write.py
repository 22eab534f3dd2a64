"""Write a plan's report files: HTML (self-contained), Markdown, JSON and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from planner.mix.result import Allocation, _json_safe
from planner.report.html import render_html
from planner.report.markdown import render_markdown


def write_report(
    alloc: Allocation,
    out_dir: str | Path,
    rate_sweep: pd.DataFrame | None = None,
    slo_sweep: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write ``plan.html``, ``plan.md``, ``plan.json`` and the CSV tables into ``out_dir``;
    returns name -> path of every file written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "html": out / "plan.html",
        "markdown": out / "plan.md",
        "json": out / "plan.json",
        "allocation": out / "allocation.csv",
        "routing": out / "routing.csv",
        "baselines": out / "baselines.csv",
    }
    files["html"].write_text(render_html(alloc, rate_sweep, slo_sweep), encoding="utf-8")
    files["markdown"].write_text(render_markdown(alloc, rate_sweep, slo_sweep), encoding="utf-8")
    payload = alloc.to_dict()
    for key, frame in (("cost_vs_rate", rate_sweep), ("cost_vs_slo", slo_sweep)):
        if frame is not None:
            payload[key] = _json_safe(frame.to_dict(orient="records"))
    files["json"].write_text(json.dumps(payload, indent=2), encoding="utf-8")
    alloc.to_frame().to_csv(files["allocation"], index=False)
    alloc.routing.to_csv(files["routing"], index=False)
    alloc.baselines_frame().to_csv(files["baselines"], index=False)
    if alloc.issues:
        files["issues"] = out / "issues.csv"
        alloc.issues_frame().to_csv(files["issues"], index=False)
    for key, frame in (("cost_vs_rate", rate_sweep), ("cost_vs_slo", slo_sweep)):
        if frame is not None:
            files[key] = out / f"{key}.csv"
            frame.to_csv(files[key], index=False)
    return files
