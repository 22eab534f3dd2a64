"""Operator catalog of the profiling suite: which class each measured op belongs to and its
FLOP and byte counts from the shape columns (minimum traffic, every tensor read/written once).

Notation: e = bytes per element of the dtype; shape columns as in `SHAPE_COLUMNS`.

op            class         FLOPs                          bytes
------------  ------------  -----------------------------  ---------------------------------
gemm          gemm          2·m·n·k                        (m·k + k·n + m·n)·e
attn_prefill  attn_prefill  4·b·h·d·P                      b·(q·(2h + 2h_kv) + 2·kv·h_kv)·d·e
attn_decode   attn_decode   4·b·h·d·P  (q = 1, P = kv)     b·(2h + 2h_kv + 2·kv·h_kv)·d·e
copy          memory        0                              2·numel·e
triad         memory        2·numel                        3·numel·e
add           memory        numel                          3·numel·e
silu_mul      memory        4·numel (output elements)      3·numel·e
add_rmsnorm   memory        5·numel (add, then RMSNorm)    (4·numel + n)·e
rope          memory        3·numel                        2·numel·e
all_reduce    comm          numel·(w−1)/w                  numel·e (the reduced tensor)
all_gather    comm          0                              numel·e (gathered output)
all_to_all    comm          0                              numel·e (per-rank buffer)
send_recv     comm          0                              numel·e

with P = q·(kv − q) + q(q + 1)/2.

P counts the (query, key) pairs a causal mask keeps: the q new tokens see the kv − q cached
tokens fully and a causal triangle among themselves. Attention FLOPs are 2 GEMMs (QKᵀ, PV),
2 FLOPs per multiply-add. Bytes: q, output, new k and v of the q new tokens move once, and the
kv = cached + new keys/values are read once (FlashAttention-style IO).

These are the conventions of `perfmodel.ops` (the operator catalog whose times a profile
calibrates): the same op in both places has the same FLOP and byte count, so a measured
efficiency applies unchanged. perfmodel's ``norm`` is the residual add + RMSNorm (4 values
moved per element), ``act`` is silu·mul (3 per output element), ``rope`` 2 per element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfmodel.profiling._torch import ELEMENT_BYTES

OpClass = str  # one of OP_CLASSES

OP_CLASSES: tuple[str, ...] = ("gemm", "attn_prefill", "attn_decode", "memory", "comm")

SHAPE_COLUMNS: tuple[str, ...] = (
    "m",
    "n",
    "k",
    "batch",
    "heads",
    "kv_heads",
    "head_dim",
    "q_len",
    "kv_len",
    "numel",
    "world_size",
)

Formula = Callable[[pd.DataFrame, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class OpDef:
    """One measurable op: its class, the shape columns it needs and its counting formulas."""

    name: str
    op_class: OpClass
    shape: tuple[str, ...]
    flops: Formula
    nbytes: Formula


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(dtype=np.float64)


def _causal_pairs(df: pd.DataFrame) -> np.ndarray:
    q, kv = _col(df, "q_len"), _col(df, "kv_len")
    return q * (kv - q) + q * (q + 1) / 2


def _attn_flops(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    return 4 * _col(df, "batch") * _col(df, "heads") * _col(df, "head_dim") * _causal_pairs(df)


def _attn_bytes(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    h, h_kv = _col(df, "heads"), _col(df, "kv_heads")
    new_side = _col(df, "q_len") * (2 * h + 2 * h_kv)
    kv_side = 2 * _col(df, "kv_len") * h_kv
    return _col(df, "batch") * (new_side + kv_side) * _col(df, "head_dim") * e


def _numel_times(
    flops_per: float, bytes_per: float, extra_n: bool = False
) -> tuple[Formula, Formula]:
    def flops(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
        return flops_per * _col(df, "numel")

    def nbytes(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
        extra = _col(df, "n") if extra_n else 0.0
        return (bytes_per * _col(df, "numel") + extra) * e

    return flops, nbytes


def _allreduce_flops(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    w = np.maximum(_col(df, "world_size"), 1.0)
    return _col(df, "numel") * (w - 1) / w


def _zero(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    return np.zeros(len(df))


def _message(df: pd.DataFrame, e: np.ndarray) -> np.ndarray:
    return _col(df, "numel") * e


_MEM = ("numel",)
_COMM = ("numel", "world_size")
_ATTN = ("batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len")

OPS: dict[str, OpDef] = {
    "gemm": OpDef(
        "gemm",
        "gemm",
        ("m", "n", "k"),
        lambda df, e: 2 * _col(df, "m") * _col(df, "n") * _col(df, "k"),
        lambda df, e: (
            (
                _col(df, "m") * _col(df, "k")
                + _col(df, "k") * _col(df, "n")
                + _col(df, "m") * _col(df, "n")
            )
            * e
        ),
    ),
    "attn_prefill": OpDef("attn_prefill", "attn_prefill", _ATTN, _attn_flops, _attn_bytes),
    "attn_decode": OpDef("attn_decode", "attn_decode", _ATTN, _attn_flops, _attn_bytes),
    "copy": OpDef("copy", "memory", _MEM, _zero, _numel_times(0, 2)[1]),
    "triad": OpDef("triad", "memory", _MEM, *_numel_times(2, 3)),
    "add": OpDef("add", "memory", _MEM, *_numel_times(1, 3)),
    "silu_mul": OpDef("silu_mul", "memory", _MEM, *_numel_times(4, 3)),
    "add_rmsnorm": OpDef("add_rmsnorm", "memory", ("numel", "n"), *_numel_times(5, 4, True)),
    "rope": OpDef("rope", "memory", _MEM, *_numel_times(3, 2)),
    "all_reduce": OpDef("all_reduce", "comm", _COMM, _allreduce_flops, _message),
    "all_gather": OpDef("all_gather", "comm", _COMM, _zero, _message),
    "all_to_all": OpDef("all_to_all", "comm", _COMM, _zero, _message),
    "send_recv": OpDef("send_recv", "comm", _COMM, _zero, _message),
}


def unknown_op_message(name: str) -> str:
    """Error text for an unknown op name, listing the closest accepted names."""
    import difflib

    close = difflib.get_close_matches(name, list(OPS), n=3)
    hint = f"; closest: {close}" if close else ""
    return f"unknown op {name!r}{hint}; accepted: {sorted(OPS)}"


def element_bytes(dtypes: pd.Series) -> np.ndarray:
    """Bytes per element for a column of dtype names (KeyError names an unknown dtype)."""
    return dtypes.map(ELEMENT_BYTES).to_numpy(dtype=np.float64)


def fill_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with ``op_class``, ``flops`` and ``bytes`` computed from op + shape columns.

    Missing shape columns are filled with 0; the caller validates that the columns an op
    needs are positive.
    """
    out = df.copy()
    for col in SHAPE_COLUMNS:
        if col not in out:
            out[col] = 0
        out[col] = out[col].fillna(0).astype(np.int64)
    out["op_class"] = out["op"].map(lambda op: OPS[op].op_class)
    e = element_bytes(out["dtype"])
    flops = np.zeros(len(out))
    nbytes = np.zeros(len(out))
    for name, idx in out.groupby("op").indices.items():
        sub = out.iloc[idx]
        flops[idx] = OPS[name].flops(sub, e[idx])
        nbytes[idx] = OPS[name].nbytes(sub, e[idx])
    out["flops"] = flops
    out["bytes"] = nbytes
    return out
