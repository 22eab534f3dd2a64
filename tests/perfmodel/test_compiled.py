"""The compiled step-time model gives the same times as the operator catalog it is read from."""

import numpy as np
import pytest

import perfmodel as pm
from perfmodel.compiled import FIELDS, StepTimeModel
from perfmodel.shape import StepShape

PLANS = [
    ("llama-2-7b", "A100-SXM4-80GB", pm.Parallelism(), "ideal"),
    ("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2, ep=2), "default"),
    ("deepseek-v3", "H200-SXM", pm.Parallelism(tp=8), "default"),
    ("mistral-7b", "L40S", pm.Parallelism(pp=2, microbatches=2), "default"),
]


@pytest.mark.parametrize(("model", "hw", "par", "cal"), PLANS)
def test_compiled_time_equals_the_grid_estimate(model, hw, par, cal):
    rng = np.random.default_rng(7)
    b, c = rng.integers(1, 200, 300), rng.integers(0, 20_000, 300)
    q = rng.choice([1, 1, 9, 512], 300)
    stm = StepTimeModel(model, hw, par, calibration=cal)
    grid = pm.estimate_grid(model, hw, b, c, q, parallelism=par, calibration=cal)
    assert stm.time(stm.shape_rows(b, q, c)) == pytest.approx(grid.time_s, rel=1e-12)


@pytest.mark.parametrize(("model", "hw", "par", "cal"), PLANS)
def test_compiled_time_equals_a_mixed_step_with_a_non_final_chunk(model, hw, par, cal):
    batch = [(1, 1000)] * 30 + [(300, 200, False)]
    est = pm.estimate_step(model, hw, batch, par, calibration=cal)
    stm = StepTimeModel(model, hw, par, calibration=cal)
    new, ctx, final = (np.array(col, dtype=float) for col in zip(*[(*b[:2], 0) for b in batch]))
    final[:30] = 1
    s = StepShape.from_sequences(new, ctx, stm.model, final)
    X = np.column_stack([getattr(s, f) for f in FIELDS])
    assert stm.time(X)[0] == pytest.approx(est.time_s, rel=1e-12)


@pytest.mark.parametrize(("model", "hw", "par", "cal"), PLANS)
@pytest.mark.parametrize("cols", [(3, 4, 5), (6, 7, 8), (0, 1, 2)])
def test_scalar_time_equals_the_vectorized_time_on_rows_of_its_columns(model, hw, par, cal, cols):
    stm = StepTimeModel(model, hw, par, calibration=cal)
    f = stm.scalar(cols)
    if f is None:  # routed experts or communication on these columns: no scalar path
        assert cols == (0, 1, 2) and (stm.experts.any() or stm.is_comm.any())
        return
    rng = np.random.default_rng(3)
    X = np.zeros((50, 9))
    X[:, cols[0]] = rng.integers(1, 4096, 50)
    X[:, cols[1]] = X[:, cols[0]] * rng.uniform(1, 8000, 50)
    X[:, cols[2]] = rng.uniform(0, 2e5, 50)
    X[0] = 0  # an empty step takes no time
    assert [f(*x[list(cols)]) for x in X] == pytest.approx(stm.time(X), rel=1e-12)
    assert f(0.0, 0.0, 0.0) == 0.0


def test_gpu_memo_returns_the_same_times_and_recomputes_rows_it_does_not_hold():
    """The fit's memo (StepTimeModel.gpu_memo): a repeated table is served from it to the
    last bit; a table with the same shape and column sums but other rows is computed anew."""
    stm = StepTimeModel("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2, ep=2))
    rng = np.random.default_rng(5)
    b, c, q = rng.integers(1, 200, 400), rng.integers(0, 20_000, 400), np.ones(400, int)
    X = stm.shape_rows(b, q, c)
    fresh = stm.time(X)
    stm.gpu_memo = {}
    assert np.array_equal(stm.time(X), fresh) and len(stm.gpu_memo) == 1
    assert np.array_equal(stm.time(X.copy()), fresh)  # served from the memo
    swapped = X.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # same column sums, other row order
    assert np.array_equal(stm.time(swapped), fresh[[1, 0, *range(2, 400)]])
