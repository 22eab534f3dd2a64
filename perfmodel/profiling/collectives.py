"""Collective cases (all-reduce, all-gather, all-to-all, send/recv) over message sizes.

Run only when more than one GPU is visible: one process per GPU (NCCL), spawned with
`torch.multiprocessing`. Every rank runs the same fixed number of repeats (a collective
deadlocks if ranks disagree); the recorded time of a case is the slowest rank's median.
The same code runs on CPU with the gloo backend (used by the tests).

Message size (``numel`` elements): all_reduce — the reduced tensor; all_gather — the gathered
output (world × input); all_to_all — each rank's buffer; send_recv — the message rank 0 sends
to rank 1.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from perfmodel.profiling._torch import require_torch, torch_dtype
from perfmodel.profiling.timing import TimingPolicy, time_kernel

COLLECTIVE_OPS = ("all_reduce", "all_gather", "all_to_all", "send_recv")


def skip_note(device_type: str, gpus: int) -> str | None:
    """Why collectives are skipped on this machine, or None when they run."""
    if device_type != "cuda":
        return "collectives skipped: profiling a CPU (collectives are measured between GPUs)"
    if gpus < 2:
        return f"collectives skipped: {gpus} GPU visible, need at least 2"
    return None


def run_collectives(
    world_size: int,
    sizes: list[int],
    dtype: str = "bf16",
    backend: str = "nccl",
    warmup: int = 3,
    repeats: int = 10,
) -> list[dict[str, Any]]:
    """Spawn ``world_size`` ranks and return one row dict per (op, message size)."""
    torch = require_torch()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        args = (world_size, backend, _free_port(), sizes, dtype, warmup, repeats, str(out))
        torch.multiprocessing.spawn(_worker, args=args, nprocs=world_size, join=True)
        return json.loads(out.read_text())


def _worker(
    rank: int,
    world: int,
    backend: str,
    port: int,
    sizes: list[int],
    dtype: str,
    warmup: int,
    repeats: int,
    out: str,
) -> None:
    torch = require_torch()
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world)
    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    policy = TimingPolicy(warmup=warmup, min_repeats=repeats, max_repeats=repeats)
    rows = []
    for op in COLLECTIVE_OPS:
        for numel in sizes:
            kernel = _kernel(torch, dist, op, numel, rank, world, device, torch_dtype(dtype))
            dist.barrier()
            median = time_kernel(kernel, device, policy).median_s
            slowest = torch.tensor([median], dtype=torch.float64, device=device)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            shape = {"numel": numel, "world_size": world}
            rows.append(
                {
                    "op": op,
                    "dtype": dtype,
                    **shape,
                    "time_s": float(slowest.item()),
                    "repeats": repeats,
                }
            )
    if rank == 0:
        Path(out).write_text(json.dumps(rows))
    dist.destroy_process_group()


def _kernel(
    torch: Any, dist: Any, op: str, numel: int, rank: int, world: int, device: Any, dt: Any
):
    if op == "all_reduce":
        x = torch.ones(numel, device=device, dtype=dt)
        return lambda: dist.all_reduce(x)
    if op == "all_gather":
        part = torch.ones(max(1, numel // world), device=device, dtype=dt)
        parts = [torch.empty_like(part) for _ in range(world)]
        return lambda: dist.all_gather(parts, part)
    if op == "all_to_all":
        n = max(world, numel - numel % world)
        src, dst = torch.ones(n, device=device, dtype=dt), torch.empty(n, device=device, dtype=dt)
        return lambda: dist.all_to_all_single(dst, src)
    msg = torch.ones(numel, device=device, dtype=dt)
    if rank == 0:
        return lambda: dist.send(msg, dst=1)
    if rank == 1:
        return lambda: dist.recv(msg, src=0)
    return lambda: None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
