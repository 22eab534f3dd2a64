"""Workloads from traces, histograms and laws; bad traces give one line naming the problem."""

import pandas as pd
import pytest

from planner.workload import Workload, WorkloadError, bundled_names


def test_bundled_traces_have_their_documented_shapes():
    assert bundled_names() == ["chat", "code", "summarization"]
    chat, summ, code = (Workload.bundled(n) for n in ("chat", "summarization", "code"))
    assert chat.mean_input < 500 and summ.mean_input > 2500 and code.mean_output < 120
    assert chat.arrival_s is not None and chat.arrival_s[0] == 0


def test_trace_with_a_missing_column_is_rejected(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"input_tokens": [10, 20]}).to_csv(path, index=False)
    with pytest.raises(WorkloadError, match=r"missing column.*output_tokens"):
        Workload.from_trace(path)


def test_negative_or_nan_lengths_are_counted_in_the_error(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"input_tokens": 5, "output_tokens": -1}\n'
        '{"input_tokens": 5, "output_tokens": null}\n'
        '{"input_tokens": 5, "output_tokens": 9}\n'
    )
    with pytest.raises(WorkloadError, match="2 row"):
        Workload.from_trace(path)


def test_histogram_must_sum_to_one_unless_normalized():
    rows = [
        {"input_tokens": 100, "output_tokens": 10, "probability": 0.5},
        {"input_tokens": 1000, "output_tokens": 10, "probability": 0.3},
    ]
    with pytest.raises(WorkloadError, match=r"sum to 0\.8"):
        Workload.from_histogram(rows)
    w = Workload.from_histogram(rows, normalize=True)
    assert w.mean_input == pytest.approx((0.5 * 100 + 0.3 * 1000) / 0.8)


def test_buckets_partition_the_requests():
    w = Workload.bundled("chat")
    buckets = w.buckets([1, 256, 1024, 10**6], [1, 128, 512, 10**6])
    assert sum(b.share for b in buckets) == pytest.approx(1.0)
    assert all(b.workload.input_tokens.max() < 10**6 for b in buckets)
