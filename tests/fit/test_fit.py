"""Fitting engine host terms through the serving model (planner.fit.fit)."""

import numpy as np
import pytest

from hardware_specs.engines import Host, get_engine
from planner.fit.fit import FitError, fit
from planner.fit.predict import build, parse_slo, predict, setup_of, workload
from planner.fit.records import Measurement, MeasurementError, read_csv
from planner.serving import prepare
from planner.serving.analytic import n_cap

TRUE = Host(step_s=4e-3, per_seq_s=30e-6, per_token_s=2e-6)
LOADS = [
    {"load": "offline", "metric": "output_tok_s"},
    {"load": "batch", "load_value": 1, "metric": "batch_latency_s"},
    {"load": "batch", "load_value": 64, "metric": "batch_latency_s"},
    {"load": "concurrency", "load_value": 16, "metric": "tpot_mean_s"},
    {"load": "rate", "load_value": 5, "metric": "ttft_mean_s"},
    {
        "load": "batch",
        "load_value": 8,
        "metric": "batch_latency_s",
        "input_tokens": 2000,
        "output_tokens": 16,
    },
]


def row(**k) -> Measurement:
    base = {"source": "synthetic", "engine": "vllm", "engine_version": "0.6.0",
            "model": "llama-3.1-8b", "hardware": "H100-SXM", "input_tokens": 512,
            "output_tokens": 256, "value": 1.0}  # fmt: skip
    return Measurement(**(base | k))


def synthetic(host: Host, scale: float | None = None) -> list[Measurement]:
    """Rows whose values capplan computes under vllm-0.6 with the given host terms and GPU
    time scaled by ``scale`` on the H100 (None: the shipped profile's scale, the one a fit
    without ``fit_scale`` keeps)."""
    update = {"host": host} | ({"gpu_time_scale": {"H100-SXM": scale}} if scale else {})
    prof = get_engine("vllm-0.6").model_copy(update=update)
    out = []
    for spec in LOADS:
        r = row(**spec)
        out.append(r.model_copy(update={"value": predict(r, build(setup_of(r), prof))}))
    return out


def test_fit_recovers_known_host_terms_from_their_predictions():
    res = fit(synthetic(TRUE))
    got = res.profiles["vllm-0.6"].host
    for name in ("step_s", "per_seq_s", "per_token_s"):
        assert getattr(got, name) == pytest.approx(getattr(TRUE, name), rel=0.05), name
    assert res.table.ratio.sub(1).abs().max() < 1e-3


def test_fit_recovers_a_gpu_time_scale_that_starts_at_its_log_zero():
    """The scales are fitted as log(scale) from 0 (scale 1): 1.3 on the H100 comes back
    within 5% beside the host terms."""
    res = fit(synthetic(TRUE, scale=1.3), fit_scale=True)
    assert res.scales["H100-SXM"] == pytest.approx(1.3, rel=0.05)
    assert res.table.ratio.sub(1).abs().median() < 0.01


def test_fewer_runs_than_parameters_is_refused_with_the_number_needed():
    with pytest.raises(FitError, match=r"2 distinct runs for 3 host terms"):
        fit(synthetic(TRUE)[:2])


def test_rows_of_unknown_engines_are_skipped_not_fitted():
    rows = [*synthetic(TRUE), row(engine="nanoflow", load="offline", metric="output_tok_s")]
    res = fit(rows)
    assert len(res.table) == len(LOADS)


def test_slo_text_becomes_one_statistic_for_every_target():
    slo = parse_slo("p90 ttft<=0.4s; p90 tpot<=0.04s")
    assert (slo.ttft_s, slo.tpot_s, slo.percentile) == (0.4, 0.04, 0.9)
    with pytest.raises(ValueError, match="one statistic"):
        parse_slo("p90 ttft<=0.4s; mean tpot<=0.04s")


def test_a_bad_csv_cell_is_named_by_file_line_and_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "source,engine,model,hardware,load,input_tokens,output_tokens,metric,value\n"
        "x,vllm,llama-3.1-8b,H100-SXM,offline,512,256,output_tok_s,fast\n"
    )
    with pytest.raises(MeasurementError, match=r"m.csv, line 2, column value"):
        read_csv(path)


def test_an_unknown_metric_gets_a_did_you_mean():
    with pytest.raises(ValueError, match="output_tok_s"):
        row(load="offline", metric="output_toks")


def test_fit_recovers_host_terms_from_simulated_closed_loop_runs():
    """The issue's round trip: runs of the iteration-level simulator under a known profile
    (closed loops of 1, 16 and 128 clients, two request sizes) fitted back by the analytic
    model: every host term within 5%."""
    from planner.serving import engine_for, simulate_closed
    from planner.workload import Workload

    prof = get_engine("vllm-0.6").model_copy(update={"host": TRUE})
    replica = engine_for("llama-3.1-8b", "H100-SXM", engine=prof)
    rows = []
    for inp, out in [(512, 256), (2048, 64)]:
        for c in (1, 16, 128):
            sim = simulate_closed(replica, Workload.fixed(inp, out), c, n_requests=max(400, 8 * c))
            got = {
                "request_s": sim.rate,
                "ttft_mean_s": sim.ttft.mean,
                "tpot_mean_s": sim.tpot.mean,
            }
            rows += [row(load="concurrency", load_value=c, input_tokens=inp, output_tokens=out,
                         metric=m, value=v) for m, v in got.items()]  # fmt: skip
    host = fit(rows).profiles["vllm-0.6"].host
    for name in ("step_s", "per_seq_s", "per_token_s"):
        assert getattr(host, name) == pytest.approx(getattr(TRUE, name), rel=0.05), name


def test_row_settings_change_the_replica_and_unknown_ones_are_named():
    given = "chunked_prefill=true; max_num_batched_tokens=1024; max_num_seqs=64"
    r = row(load="offline", metric="output_tok_s", settings=given)
    replica = build(setup_of(r), get_engine("vllm-0.6"))
    sched = replica.scheduler
    assert (sched.kind, sched.token_budget, sched.max_num_seqs) == ("chunked", 1024, 64)
    with pytest.raises(ValueError, match=r"speculative_model=x.*not modelled"):
        setup_of(row(load="offline", metric="output_tok_s", settings="speculative_model=x"))


def test_an_eager_run_has_no_graph_padding_and_pays_the_eager_step_time():
    """enforce_eager=true (and vLLM before 0.2.5): a decode of 57 sequences runs its linear
    layers at 57, not at the captured 64, and pays eager_step_s on top of step_s."""
    prof = get_engine("vllm-0.2").model_copy(update={"gpu_time_scale": {}})
    costly = prof.model_copy(update={"host": Host(step_s=2e-3, eager_step_s=5e-3)})
    offline, eager = (row(load="offline", metric="output_tok_s", settings=s)
                      for s in ("", "enforce_eager=true"))  # fmt: skip
    bare = build(setup_of(eager), prof.model_copy(update={"host": Host()})).steps
    decode = bare.shape_rows(57, 1, 1000)
    gpu = bare.time(decode)[0]
    assert build(setup_of(eager), costly).steps.time(decode)[0] == pytest.approx(gpu + 7e-3)
    padded = build(setup_of(offline), costly).steps.time(decode)[0] - 2e-3  # graphed: no eager
    at_64 = bare.time(bare.shape_rows(64, 1, 1000))[0]  # linear layers and attention at 64
    assert gpu * 1.001 < padded < at_64  # linear layers at 64, attention at 57


def test_multi_step_pays_host_once_per_k_decode_steps_and_streams_in_bursts():
    host = Host(step_s=5e-3)
    prof = get_engine("vllm-0.6").model_copy(update={"host": host})
    one = row(load="concurrency", load_value=8, metric="itl_p50_s")
    ten = one.model_copy(update={"settings": "num_scheduler_steps=10"})
    r1 = build(setup_of(one), prof)
    r10 = build(setup_of(ten), prof)
    # a decode step of 8 sequences: host 5 ms alone, 0.5 ms with 10 steps per scheduler call
    gap = r1.decode_time(8, 600)[0] - r10.decode_time(8, 600)[0]
    assert gap == pytest.approx(4.5e-3)
    # vLLM's ITL is the gap between bursts: 10 decode steps
    assert predict(ten, r10) == pytest.approx(10 * r10.decode_time(8, 512 + 128)[0], rel=0.05)


def test_a_finite_offline_run_admits_its_slots_at_once_and_the_rest_as_requests_end():
    r = row(load="offline", metric="ttft_mean_s", num_requests=1000)
    replica = build(setup_of(r), get_engine("vllm-0.6"))
    cap = predict(r.model_copy(update={"metric": "request_s"}), replica)
    p = prepare(replica, workload(r.dataset, r.input_tokens, r.output_tokens))
    slots = int(n_cap(replica, p))
    assert slots == 256  # max_num_seqs: 8B on an H100 holds more KV than 256 requests need
    k = 8192 // 512  # vLLM 0.6's prefill batch: 16 prompts of 512 tokens
    pp = replica.steps.prefill(np.array([512.0]), np.array([k]))[0] / k
    # request i <= 256: its prompt after i - 1 others; i > 256: when request i - 256 ends
    hand = sum(i * pp for i in range(1, 257)) + sum((i - 256) / cap + pp for i in range(257, 1001))
    assert predict(r, replica) == pytest.approx(hand / 1000)
    assert hand / 1000 < 0.6 * 500 / cap  # without slots, a fluid queue: N / (2 mu)
    p99 = r.model_copy(update={"metric": "ttft_p99_s"})
    assert predict(p99, replica) == pytest.approx((990 - 256) / cap + pp, rel=2e-3)


def test_an_engine_with_too_few_runs_keeps_its_prior_and_is_named():
    one_sglang_run = row(engine="sglang", engine_version="0.4", load="offline",
                         metric="output_tok_s", value=9000.0)  # fmt: skip
    res = fit([*synthetic(TRUE), one_sglang_run])
    assert "1 distinct runs for 3 host terms" in res.unfitted["sglang"]
    assert res.profiles["sglang"].host == get_engine("sglang").host
    assert len(res.table) == len(LOADS) + 1
