"""A simulated iteration costs what perfmodel.estimate_step says for the same sequences."""

import numpy as np
import pytest

import perfmodel as pm
from planner.serving.engine import Engine
from planner.serving.sim_costs import StepCosts
from planner.serving.simulate import run_requests

HW = "A100-SXM4-80GB"
PLANS = [
    ("llama-2-7b", HW, None),
    ("mistral-7b", HW, None),  # sliding-window layers
    ("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2, ep=2)),
    ("deepseek-v2-lite", "H100-SXM", None),  # MLA: no split shortcut
]


def estimate(engine: Engine, batch) -> float:
    """perfmodel's own estimate of one step, at the engine's plan and calibration."""
    return pm.estimate_step(
        engine.model,
        engine.hardware,
        batch,
        engine.parallelism,
        engine.quant,
        calibration="default",
    ).time_s


@pytest.fixture(scope="module", params=PLANS, ids=[p[0] for p in PLANS])
def engine(request):
    model, hw, par = request.param
    return Engine.build(model, hw, par, scheduler="chunked")


def test_decode_epoch_times_match_estimate_step_at_every_iteration(engine):
    costs = StepCosts(engine)
    ctx, k = np.array([10, 700, 3000, 4000, 30]), 40  # within llama-2-7b's 4,096 context
    pairs, reads = zip(*(costs.seq_terms(1, int(c)) for c in ctx))
    after = [costs.seq_terms(1, int(c) + 1) for c in ctx]
    dp = sum(p for p, _ in after) - sum(pairs)
    dr = sum(r for _, r in after) - sum(reads)
    tau1, delta, k = costs.decode_line(ctx.size, sum(pairs), sum(reads), dp, dr, k)
    for j in (1, k // 2, k):
        want = estimate(engine, [(1, int(c) + j - 1) for c in ctx])
        assert tau1 + (j - 1) * delta == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(
    "chunks",
    [
        [(300, 0, True)],  # a whole prompt
        [(200, 1500, True)],  # the last chunk of a long prompt
        [(450, 900, False)],  # a middle chunk: no logits
        [(120, 0, True), (80, 0, False)],  # two prompts in one iteration
        [(1, 64, True)],  # a one-token chunk is decode class
    ],
)
def test_mixed_iteration_time_matches_estimate_step(engine, chunks):
    costs = StepCosts(engine)
    ctx = [5, 333, 2047, 4090]
    pairs, reads = (sum(x) for x in zip(*(costs.seq_terms(1, c) for c in ctx)))
    got = costs.mixed(len(ctx), pairs, reads, chunks)
    want = estimate(engine, [(1, c) for c in ctx] + chunks)
    assert got == pytest.approx(want, rel=1e-9)


def test_chunk_epoch_times_match_estimate_step(engine):
    costs = StepCosts(engine)
    ctx, q, c0 = [100, 2000], 256, 512
    pairs, reads = (sum(x) for x in zip(*(costs.seq_terms(1, c) for c in ctx)))
    tau1, delta, k = costs.chunk_line(len(ctx), q, c0, pairs, reads, 2.0, 2.0, 6)
    for j in range(1, k + 1):
        batch = [(1, c + j - 1) for c in ctx] + [(q, c0 + (j - 1) * q, False)]
        assert tau1 + (j - 1) * delta == pytest.approx(estimate(engine, batch), rel=1e-9)


def test_batched_prefill_time_matches_estimate_step(engine):
    costs = StepCosts(engine)
    for prompts in ([777], [64, 900, 3]):
        want = estimate(engine, [(p, 0) for p in prompts])
        assert costs.prefill(prompts) == pytest.approx(want, rel=1e-9)


def test_lone_request_times_are_the_sum_of_its_estimated_iterations():
    """One request alone: first token after its prefill step, then one decode step per
    token, each as estimate_step prices it (the epoch sum is checked end to end)."""
    engine = Engine.build("llama-2-7b", HW, scheduler="continuous")
    prompt, output = 1000, 60
    res = run_requests(engine, [0.5], [prompt], [output])
    first = 0.5 + estimate(engine, [(prompt, 0)])
    decode = sum(estimate(engine, [(1, prompt + j)]) for j in range(output - 1))
    assert res.first_token[0] == pytest.approx(first, rel=1e-12)
    assert res.finish[0] == pytest.approx(first + decode, rel=1e-12)
    assert res.iterations == output


def test_decode_time_is_certified_affine_for_constant_efficiencies():
    """The closed form needs t = a + b*pairs + c*reads at fixed batch; the certificate
    holds for every batch size of a dense model with the default calibration."""
    costs = StepCosts(Engine.build("llama-2-7b", HW))
    assert all(costs.decode_coefs(n) is not None for n in (1, 2, 17, 128, 256))
