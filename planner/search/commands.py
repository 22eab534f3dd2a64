"""Ready-to-run vLLM command lines for a searched plan.

Flags are those of `vllm serve` (vLLM 0.8+ / V1): --tensor-parallel-size,
--pipeline-parallel-size, --enable-expert-parallel, --max-num-seqs, --max-num-batched-tokens
(the chunked-prefill token budget), --gpu-memory-utilization, --quantization (fp8 weights;
int4 weights need a pre-quantized AWQ/GPTQ checkpoint, named in a comment), --kv-cache-dtype.
Disaggregated plans start prefill and decode instances with a KV connector
(--kv-transfer-config, NIXL; vLLM's disaggregated-prefill example) and need a proxy in front.
"""

from __future__ import annotations

import json
import shlex

from perfmodel.catalog import published

from .space import parse_quant


def hf_repo(model: str) -> str:
    """The Hugging Face repo of a bundled model (configs/published.yaml), else its name."""
    return str(published().get(model, {}).get("hf_repo", model))


def _flags(tp: int, pp: int, ep: int, quant: str, seqs: int, budget: int, mem: float) -> list:
    q = parse_quant(quant)
    out = ["--tensor-parallel-size", str(tp), "--pipeline-parallel-size", str(pp)]
    if ep > 1:
        out.append("--enable-expert-parallel")
    out += ["--max-num-seqs", str(seqs)]
    if budget:
        out += ["--max-num-batched-tokens", str(budget)]
    out += ["--gpu-memory-utilization", f"{mem:g}"]
    if q.weights == "fp8":
        out += ["--quantization", "fp8"]
    if q.kv == "fp8":
        out += ["--kv-cache-dtype", "fp8"]
    return out


def vllm_commands(row: dict, model: str, memory_utilization: float = 0.9) -> list[str]:
    """Shell lines that deploy one unit of plan ``row`` (a ranked-plan record)."""
    repo = hf_repo(model)
    q = parse_quant(row["quant"])
    note = []
    if q.weights in ("int4", "fp4"):
        note = [f"# {q.weights} weights: serve a pre-quantized (AWQ/GPTQ/NVFP4) {repo}"]
    seqs, budget = int(row["max_num_seqs"]), int(row["token_budget"])
    if row["mode"] == "aggregated":
        par = (row["tp"], row["pp"], row["ep"])
        flags = _flags(*par, row["quant"], seqs, budget, memory_utilization)
        return [*note, shlex.join(["vllm", "serve", repo, *flags])]
    kv = json.dumps({"kv_connector": "NixlConnector", "kv_role": "kv_both"})
    lines = list(note)
    for phase, n, tp, pp, s in (
        ("prefill", row["prefill_replicas"], row["prefill_tp"], row["prefill_pp"], 256),
        ("decode", row["decode_replicas"], row["tp"], row["pp"], seqs),
    ):
        flags = _flags(tp, pp, row["ep"], row["quant"], s, 0, memory_utilization)
        cmd = shlex.join(["vllm", "serve", repo, *flags, "--kv-transfer-config", kv])
        lines.append(f"# {phase}: {int(n)} instance(s) of {int(tp) * int(pp)} GPU(s)")
        lines.append(cmd)
    lines.append("# then route requests through a prefill/decode proxy (vLLM disagg example)")
    return lines
