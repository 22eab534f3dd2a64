"""Engine host time and CUDA-graph padding on top of the GPU step time (perfmodel.host)."""

import numpy as np
import pytest

from hardware_specs.engines import Host, get_engine
from perfmodel import Parallelism
from perfmodel.compiled import StepTimeModel


def profile(name="vllm-0.6", **host):
    """A bundled profile's scheduler and graphs with only the given host terms."""
    return get_engine(name).model_copy(update={"host": Host(**host), "gpu_time_scale": {}})


@pytest.fixture(scope="module")
def gpu():
    return StepTimeModel("llama-3.1-8b", "H100-SXM")


def decode_row(gpu, n, ctx=1000, token_ops=None):
    """A decode step's aggregates; token_ops replaces the tokens/seqs/logits columns."""
    row = gpu.shape_rows(n, 1, ctx)[0].copy()
    if token_ops is not None:
        row[:3] = token_ops
    return row


def test_a_decode_of_57_runs_its_linear_layers_at_the_captured_size_64(gpu):
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", engine=profile())
    expected = gpu.time(decode_row(gpu, 57, token_ops=64))[0]  # attention still at 57
    assert eng.decode(57, 1000)[0] == pytest.approx(expected, rel=1e-12)
    assert eng.decode(64, 1000)[0] == pytest.approx(gpu.decode(64, 1000)[0], rel=1e-12)


def test_host_time_adds_step_plus_per_sequence_plus_per_token(gpu):
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM",
                        engine=profile(step_s=1e-3, per_seq_s=10e-6, per_token_s=2e-6))  # fmt: skip
    # decode of 64: 1 ms + 64 * 10 us + 64 * 2 us = 1.768 ms
    assert eng.decode(64, 1000)[0] - gpu.decode(64, 1000)[0] == pytest.approx(1.768e-3)
    # one prefill of 512 tokens: 1 ms + 10 us + 512 * 2 us = 2.034 ms (no graph, no eager cost)
    assert eng.prefill(512)[0] - gpu.prefill(512)[0] == pytest.approx(2.034e-3)


def test_steps_no_graph_covers_pay_the_eager_cost(gpu):
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", engine=profile(eager_step_s=3e-3))
    assert eng.decode(300, 100)[0] - gpu.decode(300, 100)[0] == pytest.approx(3e-3)  # > 256
    assert eng.decode(256, 100)[0] == pytest.approx(gpu.decode(256, 100)[0])
    assert eng.prefill(512)[0] - gpu.prefill(512)[0] == pytest.approx(3e-3)


def test_rows_without_tokens_have_no_host_time():
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", engine=profile(step_s=1e-3))
    row = np.zeros(9)
    row[3:6] = (512, 512 * 513 / 2, 0)  # prefill-class attention alone (sim_mixed's split)
    plain = StepTimeModel("llama-3.1-8b", "H100-SXM").time(row)[0]
    assert eng.time(row)[0] == pytest.approx(plain)


def test_gpu_time_scale_multiplies_the_gpu_part_only(gpu):
    prof = profile(step_s=1e-3).model_copy(update={"gpu_time_scale": {"H100-SXM": 1.5}})
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", engine=prof)
    assert eng.decode(64, 1000)[0] == pytest.approx(1.5 * gpu.decode(64, 1000)[0] + 1e-3)


def test_piecewise_graphs_pad_the_tokens_of_mixed_steps(gpu):
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", engine=profile("vllm-v1"))
    row = decode_row(gpu, 40)
    row[0] += 260  # 40 decodes + a 260-token chunk: 300 tokens -> captured size 304
    padded = row.copy()
    padded[0] = 304
    assert eng.time(row)[0] == pytest.approx(gpu.time(padded)[0], rel=1e-12)


def test_each_tensor_parallel_collective_adds_its_latency():
    # Llama-3.1-8B at TP 2: two all-reduces per layer (32 layers), one after the
    # vocabulary-parallel embedding and the all-gather of the logits: 66 per step
    par = Parallelism(tp=2)
    tp2 = StepTimeModel("llama-3.1-8b", "H100-SXM", parallelism=par)
    prof = profile(per_collective_s=20e-6)
    eng = StepTimeModel("llama-3.1-8b", "H100-SXM", parallelism=par, engine=prof)
    assert eng.collectives == 66
    assert eng.decode(64, 1000)[0] - tp2.decode(64, 1000)[0] == pytest.approx(66 * 20e-6)
