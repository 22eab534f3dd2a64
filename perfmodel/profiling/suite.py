"""The microbenchmark suite: plan the cases for a device, time them, return a Profile.

Quick plan (CPU, ≤ 2 min on 2 cores): the validation model and the smallest bundled model at
tp = 1 plus a generic GEMM grid, a small attention grid and memory ops. Full plan: every
bundled model's projections under tp 1/2/4/8 over a wide token grid, all dtypes the device
runs well (fp8 on Hopper), wider attention grids, collectives when > 1 GPU is visible.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from perfmodel.profiling import attention, gemm, memory, shapes
from perfmodel.profiling._torch import fp8_supported, require_torch, resolve_device
from perfmodel.profiling.cases import Case, dedupe
from perfmodel.profiling.collectives import run_collectives, skip_note
from perfmodel.profiling.errors import ProfileError
from perfmodel.profiling.ops import fill_counts
from perfmodel.profiling.profile import Profile
from perfmodel.profiling.provenance import collect
from perfmodel.profiling.timing import FULL_POLICY, QUICK_POLICY, TimingPolicy, timing_method


@dataclass(frozen=True)
class SuitePlan:
    """What to measure. Token grids are GEMM rows m; caps bound one case's work and memory."""

    quick: bool
    dtypes: list[str]
    attn_dtypes: list[str]
    models: list[str] | None  # bundled model names; None = all bundled
    tps: tuple[int, ...]
    attn_tps: tuple[int, ...]
    gemm_tokens: list[int]
    gemm_square: list[int]
    max_gemm_flops: float
    max_gemm_bytes: float
    prefill_seq: list[int]
    prefill_batch: list[int]
    max_attn_flops: float
    decode_kv: list[int]
    decode_batch: list[int]
    max_kv_bytes: float
    memory_sizes: list[int]
    comm_sizes: list[int]
    policy: TimingPolicy
    notes: list[str] = field(default_factory=list)
    include_validation: bool = True  # the shapes of configs/validate-*.json
    generic_heads: tuple[shapes.HeadShape, ...] = ((32, 8, 128),)

    @classmethod
    def for_device(cls, device_type: str, quick: bool, fp8: bool = False) -> SuitePlan:
        """The default quick or full plan for a ``cpu`` or ``cuda`` device."""
        if device_type == "cuda":
            return _cuda_plan(quick, fp8)
        return _cpu_plan(quick)


def _cpu_plan(quick: bool) -> SuitePlan:
    notes = ["fp16 skipped on CPU: torch has no fast fp16 CPU kernels (~1 GFLOP/s)"]
    if quick:
        notes.append("quick CPU plan: fp32 only (bf16 in the full plan)")
    tokens = [1, 2, 4, 8, 16, 32, 64, 256, 1024, 2048] if quick else [1, 4, 16, 64, 256, 1024, 4096]
    return SuitePlan(
        quick=quick,
        dtypes=["fp32"] if quick else ["fp32", "bf16"],
        attn_dtypes=["fp32"] if quick else ["fp32", "bf16"],
        models=["qwen2.5-0.5b"] if quick else None,
        tps=(1,) if quick else shapes.TP_DEGREES,
        attn_tps=(1,),
        gemm_tokens=tokens,
        gemm_square=[256, 1024, 4096],
        max_gemm_flops=2e10,
        max_gemm_bytes=2.6e8 if quick else 5e8,
        prefill_seq=[64, 128, 256, 512, 1024] if quick else [64, 256, 1024, 2048],
        prefill_batch=[1, 4] if quick else [1, 2, 4, 8],
        max_attn_flops=2e10,
        decode_kv=[128, 512, 2048, 8192] if quick else [64, 256, 1024, 4096, 16384],
        decode_batch=[1, 4, 16, 64] if quick else [1, 2, 4, 8, 16, 32, 64, 128],
        max_kv_bytes=3e8 if quick else 1.1e9,
        memory_sizes=[4**i for i in range(5, 13)] if quick else [2**i for i in range(10, 26)],
        comm_sizes=[],
        policy=QUICK_POLICY if quick else FULL_POLICY,
        notes=notes,
    )


def _cuda_plan(quick: bool, fp8: bool) -> SuitePlan:
    dtypes = ["bf16", "fp16", "fp32"] + (["fp8"] if fp8 else [])
    # samples are graph replays of >= 1 ms (timing.GRAPH_SPAN_S): 5-10 of them give a stable
    # median, and ~15 ms per case keeps the full plan's bf16 and fp8 cases within ~3 minutes
    fast = TimingPolicy(warmup=2, min_repeats=5, max_repeats=50, target_s=0.01)
    return SuitePlan(
        quick=quick,
        dtypes=dtypes,
        attn_dtypes=["bf16"] if quick else ["bf16", "fp16"],
        models=["llama-3.1-8b", "qwen2.5-0.5b"] if quick else None,
        tps=(1,) if quick else shapes.TP_DEGREES,
        attn_tps=(1,) if quick else shapes.TP_DEGREES,
        gemm_tokens=[1, 8, 64, 512, 4096]
        if quick
        else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384],
        gemm_square=[1024, 4096, 8192],
        max_gemm_flops=1e13,
        max_gemm_bytes=8e9,
        prefill_seq=[256, 1024, 4096] if quick else [128, 512, 1024, 2048, 4096, 8192, 16384],
        prefill_batch=[1, 8] if quick else [1, 4, 16],
        max_attn_flops=1e13,
        decode_kv=[256, 2048, 16384]
        if quick
        else [128, 512, 1024, 2048, 4096, 8192, 16384, 32768, 131072],
        decode_batch=[1, 16, 128] if quick else [1, 4, 16, 64, 256],
        max_kv_bytes=8e9,
        memory_sizes=[2**i for i in range(10, 31, 2 if quick else 1)],
        comm_sizes=[2**i for i in range(10, 29, 3 if quick else 1)],
        policy=fast,
        notes=[],
    )


#: Order of measurement (a time budget cuts the last cases): serving runs bf16, then fp8
#: (quantized serving), then the rest; within a dtype the few memory cases first (the derived
#: bandwidth needs copy/triad), then attention, then GEMMs. Memory ops have no fp8 case.
DTYPE_PRIORITY = {"bf16": 0, "fp8": 1, "fp16": 2, "fp32": 3}
OP_PRIORITY = {"attn_prefill": 1, "attn_decode": 1, "gemm": 2}


def _priority(case: Case) -> tuple[int, int]:
    return DTYPE_PRIORITY.get(case.dtype, len(DTYPE_PRIORITY)), OP_PRIORITY.get(case.op, 0)


def plan_cases(plan: SuitePlan, cold_bytes: float = 0.0) -> tuple[list[Case], list[str]]:
    """The deduplicated case list of ``plan`` and notes on what the caps skipped."""
    specs = shapes.load_specs(plan.models, plan.include_validation)
    model_nk, _ = shapes.model_shapes(specs, plan.tps)
    _, model_heads = shapes.model_shapes(specs, plan.attn_tps)
    nk = [(s, s) for s in plan.gemm_square] + model_nk
    heads = model_heads + list(plan.generic_heads)
    gemms, skipped = gemm.gemm_cases(
        plan.gemm_tokens, nk, plan.dtypes, plan.max_gemm_flops, plan.max_gemm_bytes, cold_bytes
    )
    cases = gemms
    cases += attention.prefill_cases(
        plan.prefill_seq, plan.prefill_batch, heads, plan.attn_dtypes, plan.max_attn_flops
    )
    cases += attention.decode_cases(
        plan.decode_kv, plan.decode_batch, heads, plan.attn_dtypes, plan.max_kv_bytes, cold_bytes
    )
    cases += memory.memory_cases(plan.memory_sizes, [d for d in plan.dtypes if d != "fp8"])
    cases.sort(key=_priority)
    notes = (
        [*plan.notes, f"{skipped} GEMM cases over the size caps skipped"]
        if skipped
        else list(plan.notes)
    )
    return dedupe(cases), notes


def run_suite(
    quick: bool = True,
    device: str | None = "auto",
    threads: int | None = None,
    plan: SuitePlan | None = None,
    progress: bool = True,
    budget_s: float | None = None,
) -> Profile:
    """Run the suite on ``device`` (auto: CUDA if present, else CPU) and return the Profile.

    ``budget_s`` bounds the timing loop: cases left when it runs out are skipped (bf16 is
    measured first) and counted in the provenance notes, so a short lease still yields a
    profile. A case that raises (out of memory, an unsupported kernel) is skipped and named in
    the notes; the rest of the suite goes on."""
    torch = require_torch()
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    plan = plan or SuitePlan.for_device(dev.type, quick, fp8=fp8_supported(dev))
    prov = collect(dev, timing_method(dev), quick=plan.quick)
    cold = 4.0 * (_cache_bytes(torch, dev) or prov.last_level_cache_bytes or 32 * 2**20)
    cases, notes = plan_cases(plan, cold)
    deadline = time.monotonic() + budget_s if budget_s else None
    rows = _time_cases(cases, dev, plan.policy, progress, deadline, notes)
    rows += _collectives(dev, plan, notes)
    if not rows:
        raise ProfileError(f"no case was timed ({'; '.join(notes[-2:])}): raise the time budget")
    table = fill_counts(pd.DataFrame(rows).assign(device=prov.device))
    prov = prov.model_copy(update={"notes": notes})
    return Profile(table, prov)


def _time_cases(
    cases: list[Case],
    device: Any,
    policy: TimingPolicy,
    progress: bool,
    deadline: float | None = None,
    notes: list[str] | None = None,
) -> list[dict]:
    """One row per timed case; failures and cases past ``deadline`` are noted, not timed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from perfmodel.profiling.timing import time_kernel

    rows: list[dict] = []
    failed: Counter[str] = Counter()
    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("profiling", total=len(cases))
        for done, case in enumerate(cases):
            if deadline is not None and time.monotonic() > deadline:
                _note_untimed(cases[done:], notes)
                break
            bar.update(task, description=f"{case.op} {case.dtype}")
            try:  # the kernel (and its tensors) lives only for its timing
                timing = time_kernel(case.build(device), device, policy)
            except Exception as exc:  # one bad case must not lose a whole device run
                failed[f"{case.op} {case.dtype}: {type(exc).__name__}: {str(exc)[:60]}"] += 1
                _release(device)
                continue
            rows.append(
                {
                    "op": case.op,
                    "dtype": case.dtype,
                    **case.shape,
                    "time_s": timing.median_s,
                    "repeats": timing.repeats,
                }
            )
            bar.advance(task)
    if notes is not None:
        notes += [f"{n} case(s) failed and were skipped: {what}" for what, n in failed.items()]
    return rows


def _note_untimed(cases: list[Case], notes: list[str] | None) -> None:
    """Count the cases a time budget left untimed, by op and dtype, into ``notes``."""
    if notes is None:
        return
    counts = Counter(f"{c.op} {c.dtype}" for c in cases)
    listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    notes.append(f"time budget reached: {len(cases)} case(s) not timed ({listed})")


def _release(device: Any) -> None:
    """Free cached device memory after a failed case (an out-of-memory error, say)."""
    if getattr(device, "type", "") == "cuda":
        torch = require_torch()
        with contextlib.suppress(RuntimeError):
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()


def _collectives(device: Any, plan: SuitePlan, notes: list[str]) -> list[dict]:
    torch = require_torch()
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    note = skip_note(device.type, gpus)
    if note or not plan.comm_sizes:
        notes.append(note or "collectives skipped: no message sizes in the plan")
        return []
    return run_collectives(gpus, plan.comm_sizes, dtype="bf16", backend="nccl")


def _cache_bytes(torch: Any, device: Any) -> int | None:
    """GPU L2 size in bytes (None on CPU: the provenance reads the CPU's last-level cache)."""
    if device.type != "cuda":
        return None
    return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0)) or None
