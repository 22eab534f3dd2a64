"""The constant-efficiency step time of many aggregate rows in one compiled pass
(perfmodel.compiled.StepTimeModel): per op, t = max(F/peak, B/bw)/eff + overhead where the
op runs (F + B > 0), summed over ops. Equal to the numpy expression it replaces; fusing the
per-op passes keeps the (rows x ops) intermediates out of memory (a 35k-row chunked-prefill
table: 11.5 -> 2.5 ms)."""

from __future__ import annotations

import numpy as np

from .jit import njit


@njit(cache=True, error_model="numpy")
def fused_time(P, W0, K0, experts, resident, frac, inv_peak, bw, eff, overhead, comm, col, factor):
    """Step time of each row. P (rows x 4·ops) holds the affine parts X @ [F | A | W | K];
    W0 and K0 are the weight and KV bytes an op reads only when it runs (flops or
    activations > 0); routed-expert ops read ``resident · frac`` weight bytes; an op with
    col[i] >= 0 is a collective whose roofline time is comm[:, col[i]]."""
    rows, ops = P.shape[0], W0.size
    out = np.empty(rows)
    for r in range(rows):
        total = 0.0
        for i in range(ops):
            flops, act = P[r, i], P[r, ops + i]
            gate = flops + act > 0
            weight = P[r, 2 * ops + i] + (W0[i] if gate else 0.0)
            if experts[i]:
                weight = resident[i] * frac[r]
            nbytes = weight + act + P[r, 3 * ops + i] + (K0[i] if gate else 0.0)
            if flops + nbytes > 0:
                roof = comm[r, col[i]] if col[i] >= 0 else max(flops * inv_peak[i], nbytes / bw)
                total += roof / eff[i] + overhead[i]
        out[r] = total * factor
    return out
