"""Closed forms of the roofline in sympy: one operator's time, and the decode ridge batch.

* Operator (Williams, Waterman & Patterson 2009): t = max(F/(η_c·P), B/(η_m·W)) + n·τ, with F
  FLOPs, B bytes moved, P peak FLOP/s, W bytes/s, η the calibration's efficiency and n·τ the
  launch overhead (perfmodel.roofline.time_ops; η_c = η_m there).
* Decode ridge: a decode step of b sequences after c cached tokens moves
  B(b) = B₀ + B₁·b bytes (weights once, KV and activations per sequence) and does
  F(b) = F₀ + F₁·b FLOPs; F(b)/P = B(b)/W gives b* = (B₀P − F₀W)/(F₁W − B₁P). There is no
  ridge when F₁/B₁ ≤ P/W: each added sequence brings less arithmetic per byte than the chip's
  balance point (long context: KV bytes grow with c as fast as attention FLOPs; "Mind the
  Memory Gap", Recasens et al. 2025). MoE adds the routed-expert weights touched,
  X·(1 − (1 − k/E)^b) (E·(1 − (1 − k/E)^b) distinct experts per layer), and the ridge is a
  Lambert-W root. Coefficients are read off perfmodel.ops.build_ops (the one catalog).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .calibration import MIN_EFFICIENCY
from .errors import PerfModelError
from .ops import build_ops, touched_fraction
from .roofline import peak
from .shape import StepShape

F, B, P, W = sp.symbols("F B P W", positive=True)
eta_c, eta_m = sp.symbols("eta_c eta_m", positive=True)
n_launch, tau = sp.symbols("n tau", nonnegative=True)
b, c = sp.symbols("b c", positive=True)
F0, F1, B0, B1 = sp.symbols("F_0 F_1 B_0 B_1", nonnegative=True)
X, r = sp.symbols("X r", nonnegative=True)
E, k = sp.symbols("E k", positive=True)

#: Roofline time of one operator: max(F/(η_c P), B/(η_m W)).
ROOFLINE = sp.Max(F / (eta_c * P), B / (eta_m * W))
#: With the per-launch overhead of a calibration: n launches of τ seconds each.
OP_TIME = ROOFLINE + n_launch * tau
#: Distinct experts touched per MoE layer by b tokens, top-k of E (uniform routing).
DISTINCT_EXPERTS = E * (1 - (1 - k / E) ** b)
#: Decode step FLOPs and bytes, affine in the batch b (dense models).
DECODE_FLOPS = F0 + F1 * b
DECODE_BYTES = B0 + B1 * b
#: Routed-expert weight bytes touched: X·(1 − e^{−r b}), r = −ln(1 − k/E).
EXPERT_BYTES = X * (1 - sp.exp(-r * b))


def ridge_equation(moe: bool = False) -> sp.Eq:
    """F(b)/P = B(b)/W (with the routed-expert term when ``moe``)."""
    return sp.Eq(DECODE_FLOPS / P, (DECODE_BYTES + (EXPERT_BYTES if moe else 0)) / W)


_A, _C, _D = sp.symbols("A C D", real=True)
#: The MoE ridge equation is A·b + C + D·e^{−rb} = 0 with these A, C, D.
MOE_TERMS = {_A: F1 / P - B1 / W, _C: F0 / P - (B0 + X) / W, _D: X / W}


def ridge_solutions(moe: bool = False, compact: bool = False) -> list[sp.Expr]:
    """``sympy.solve`` of the ridge equation for b: dense b* = (B₀P − F₀W)/(F₁W − B₁P); MoE
    b* = −C/A + W₀(−(rD/A)e^{rC/A})/r (Lambert W, principal branch: the other branch is the
    root below 0), in A, C, D (:data:`MOE_TERMS`) when ``compact``."""
    if not moe:
        return sp.solve(ridge_equation(), b)
    bb = sp.Symbol("b")
    sols = [s.subs(bb, b) for s in sp.solve(_A * bb + _C + _D * sp.exp(-r * bb), bb)]
    return sols if compact else [s.subs(MOE_TERMS) for s in sols]


def latex() -> dict[str, str]:
    """LaTeX of this module's closed forms (for notebooks: IPython.display.Math)."""
    terms = r",\quad ".join(f"{sp.latex(k)} = {sp.latex(v)}" for k, v in MOE_TERMS.items())
    return {
        "roofline": r"t = " + sp.latex(ROOFLINE),
        "op_time": r"t = " + sp.latex(OP_TIME),
        "ridge_equation": sp.latex(ridge_equation()),
        "ridge": r"b^{*} = " + sp.latex(ridge_solutions()[0]),
        "moe_ridge_equation": sp.latex(ridge_equation(moe=True)),
        "moe_ridge": r"b^{*} = " + sp.latex(ridge_solutions(moe=True, compact=True)[0]),
        "moe_ridge_terms": terms,
        "distinct_experts": r"\mathbb{E}[\text{experts}] = " + sp.latex(DISTINCT_EXPERTS),
    }


# ---- one operator ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OpRoofline:
    """One operator's roofline as an expression and its numbers (SI units).

    ``values`` maps the symbols of :data:`OP_TIME` to this op's numbers; ``time_s`` is the
    substituted expression times the pipeline factor (estimate_step's ``ops.time_s`` row)."""

    op: str
    expr: sp.Expr
    values: dict = field(repr=False)
    time_s: float
    bound: str

    def to_dict(self) -> dict:
        return {
            "op": self.op,
            "time_s": self.time_s,
            "bound": self.bound,
            **{str(s): float(v) for s, v in self.values.items()},
        }


def _setup_shape(model, hardware, batch, parallelism, quant, calibration):
    from .step import _batch_arrays, _setup

    setup = _setup(model, hardware, parallelism, quant, calibration)
    new, cached, final = _batch_arrays(batch)
    shape = StepShape.from_sequences(new, cached, setup.model, final)
    return setup, shape


def op_roofline(
    model, hardware, batch, op: str, parallelism=None, quant=None, calibration="ideal"
) -> OpRoofline:
    """:data:`OP_TIME` with one operator's numbers substituted (``batch`` as estimate_step:
    (new_tokens, context_tokens) per sequence). Several catalog entries of one name (norm)
    add up. Agrees with ``estimate_step(...).ops`` within rounding."""
    setup, shape = _setup_shape(model, hardware, batch, parallelism, quant, calibration)
    m, pp = setup.par.microbatches, setup.par.pp
    factor = (m + pp - 1) / pp
    ops = [
        o
        for o in build_ops(setup.model, shape.scaled(1.0 / m), setup.par, setup.quant)
        if o.name == op and float(o.flops[0] + o.bytes_weight[0] + o.bytes_act[0] + o.bytes_kv[0])
    ]
    if not ops:
        raise PerfModelError(f"no operator {op!r} with work in this step")
    if any(o.kind == "comm" for o in ops):
        raise PerfModelError(f"{op!r} is a collective (alpha-beta time), not a roofline")
    overhead = getattr(setup.calibration, "kernel_overhead_s", {}) or {}
    expr, values, t_c, t_m, total = sp.Integer(0), {}, 0.0, 0.0, 0.0
    for i, o in enumerate(ops):
        nbytes = float(o.bytes_weight[0] + o.bytes_act[0] + o.bytes_kv[0])
        eff = setup.calibration.efficiency(
            o.kind,
            o.dtype,
            o.flops / o.count,
            (o.bytes_weight + o.bytes_act + o.bytes_kv) / o.count,
            op=o.name,
            shape=o.shape(),
        )
        eff = max(
            float(np.nan_to_num(np.asarray(eff, dtype=float), nan=1.0).ravel()[0]), MIN_EFFICIENCY
        )
        vals = {
            F: float(o.flops[0]),
            B: nbytes,
            P: float(peak(setup.hardware, o.dtype)),
            W: float(setup.hardware.mem_bandwidth),
            eta_c: eff,
            eta_m: eff,
            n_launch: float(o.count),
            tau: float(overhead.get(o.kind, 0.0)),
        }
        sub = (
            {s: sp.Symbol(f"{s.name}_{i}", **s.assumptions0) for s in vals} if len(ops) > 1 else {}
        )
        expr = expr + OP_TIME.xreplace(sub)
        values.update({sub.get(s, s): v for s, v in vals.items()})
        t_c += vals[F] / vals[P]
        t_m += vals[B] / vals[W]
        total += float(OP_TIME.subs(vals).evalf(30))
    return OpRoofline(op, expr, values, total * factor, "compute" if t_c >= t_m else "memory")


# ---- the decode ridge ------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeCoefficients:
    """Decode step of b sequences at context c: compute time (F₀ + F₁b)/P, memory time
    (B₀ + B₁b + X(1 − e^{−rb}))/W. F counts each op's FLOPs weighted by P/P_op (raw FLOPs when
    every op runs at the same peak P); collectives are left out (no roofline)."""

    context: float
    F0: float
    F1: float
    B0: float
    B1: float
    P: float
    W: float
    X: float = 0.0  # routed-expert weight bytes when every local expert is touched
    r: float = 0.0  # −(tokens per b)·ln(1 − k/E)

    @property
    def subs(self) -> dict:
        return {
            F0: self.F0,
            F1: self.F1,
            B0: self.B0,
            B1: self.B1,
            P: self.P,
            W: self.W,
            X: self.X,
            r: self.r,
        }

    def compute_time(self, batch) -> np.ndarray:
        return (self.F0 + self.F1 * np.asarray(batch, dtype=float)) / self.P

    def memory_time(self, batch) -> np.ndarray:
        bb = np.asarray(batch, dtype=float)
        return (self.B0 + self.B1 * bb + self.X * -np.expm1(-self.r * bb)) / self.W


def decode_coefficients(
    model, hardware, context: float, parallelism=None, quant=None
) -> DecodeCoefficients:
    """Affine coefficients of a decode step read off the operator catalog at b = 1 and 2
    (checked at b = 4); routed-expert weight bytes kept exact (ops.touched_fraction)."""
    from .step import _setup

    s = _setup(model, hardware, parallelism, quant, "ideal")
    batches = np.array([1.0, 2.0, 4.0])
    shape = StepShape.from_grid(batches, 1, float(context), s.model)
    ops = [o for o in build_ops(s.model, shape, s.par, s.quant) if o.kind != "comm"]
    p_ref = float(peak(s.hardware, s.quant.gemm))
    flops = sum(o.flops * (p_ref / float(peak(s.hardware, o.dtype))) for o in ops)
    nbytes = sum(o.bytes_weight + o.bytes_act + o.bytes_kv for o in ops if o.name != "experts")
    x = rate = 0.0
    for o in ops:
        if o.name == "experts":
            nbytes = nbytes + o.bytes_act + o.bytes_kv
            x += float(o.resident)
    if s.model.moe:
        group = s.par.dp if s.par.ep > 1 else 1
        rate = -group * math.log1p(-s.model.moe.top_k / s.model.moe.num_experts)
        frac = touched_fraction(s.model, s.par, batches)
        assert np.allclose(x * frac, -x * np.expm1(-rate * batches), rtol=1e-12)
    coef = []
    for v in (flops, nbytes):
        slope, const = v[1] - v[0], 2 * v[0] - v[1]
        if abs(const + slope * 4 - v[2]) > 1e-9 * abs(v[2]):
            raise PerfModelError("decode FLOPs/bytes are not affine in the batch")
        coef += [float(const), float(slope)]
    return DecodeCoefficients(
        float(context), *coef, p_ref, float(s.hardware.mem_bandwidth), x, rate
    )


@dataclass(frozen=True)
class DecodeRidge:
    """Batch b* at which a decode step's compute time equals its memory time.

    ``batch`` is inf when there is none (``reason`` says why): every added sequence brings
    less arithmetic per byte than the chip's balance P/W, so decode stays memory-bound."""

    model: str
    hardware: str
    context: float
    batch: float
    expr: sp.Expr
    coefficients: DecodeCoefficients
    reason: str = ""

    @property
    def exists(self) -> bool:
        return math.isfinite(self.batch)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "hardware": self.hardware,
            "context": self.context,
            "ridge_batch": self.batch,
            "reason": self.reason,
        }


def decode_ridge(model, hardware, context: float, parallelism=None, quant=None) -> DecodeRidge:
    """Solve F(b)/P = B(b)/W for b with sympy (dense: rational; MoE: Lambert W)."""
    from .step import resolve_hardware, resolve_model

    mspec, hw = resolve_model(model), resolve_hardware(hardware)
    co = decode_coefficients(mspec, hw, context, parallelism, quant)
    moe = co.X > 0
    expr = ridge_solutions(moe)[0]
    slope = co.F1 / co.P - co.B1 / co.W  # compute minus memory time per added sequence
    name, hw_name = mspec.name, hw.name
    if slope <= 0:
        why = (
            f"no ridge: each sequence adds {co.F1 / co.B1:.3g} FLOP/byte at context "
            f"{context:g}, below the balance P/W = {co.P / co.W:.3g}; decode stays memory-bound"
        )
        return DecodeRidge(name, hw_name, float(context), math.inf, expr, co, why)
    if co.compute_time(0.0) >= co.memory_time(0.0):
        return DecodeRidge(name, hw_name, float(context), 0.0, expr, co, "compute-bound at b=0")
    value = sp.N(expr.subs(co.subs), 30)
    if not moe:
        return DecodeRidge(name, hw_name, float(context), float(value), expr, co)
    # Lambert W: the principal branch is the positive root; check, else the other branch
    cands = [value, sp.N(expr.replace(sp.LambertW, lambda z: sp.LambertW(z, -1)).subs(co.subs), 30)]
    roots = [float(sp.re(v)) for v in cands if abs(sp.im(v)) < 1e-20 and sp.re(v) > 0]
    return DecodeRidge(name, hw_name, float(context), roots[0], expr, co)


def critical_context(model, hardware, parallelism=None, quant=None, probe: float = 4096.0):
    """Context c* beyond which a dense decode step has no ridge: F₁(c)/P = B₁(c)/W with F₁, B₁
    affine in c (attention FLOPs and KV bytes per sequence). Returns (c*, expression) with
    c* = inf when the per-sequence intensity never drops below P/W, and 0 when it starts
    there. Sliding-window models are not affine in c (raises)."""
    cs = [0.0, probe, 2 * probe]
    co = [decode_coefficients(model, hardware, x, parallelism, quant) for x in cs]
    f10, f11 = co[0].F1, (co[1].F1 - co[0].F1) / probe
    b10, b11 = co[0].B1, (co[1].B1 - co[0].B1) / probe
    for val, c0, c1 in ((co[2].F1, f10, f11), (co[2].B1, b10, b11)):
        if abs(c0 + c1 * 2 * probe - val) > 1e-9 * abs(val):
            raise PerfModelError("per-sequence FLOPs/bytes are not affine in the context")
    f10s, f11s, b10s, b11s = sp.symbols("f_10 f_11 b_10 b_11", nonnegative=True)
    eq = sp.Eq((f10s + f11s * c) / P, (b10s + b11s * c) / W)
    sol = sp.solve(eq, c)
    expr = sol[0] if sol else sp.oo
    pw = co[0].P / co[0].W
    if f10 / b10 <= pw:
        return 0.0, expr
    if f11 / b11 >= pw if b11 > 0 else True:
        return math.inf, expr
    subs = {f10s: f10, f11s: f11, b10s: b10, b11s: b11, P: co[0].P, W: co[0].W}
    return float(sp.N(expr.subs(subs), 30)), expr
