"""Benchmark result files become Measurement rows in SI units; bad files give one clear error.

Fixtures in tests/fit/data/ follow the keys written by each tool's own code (cited per test).
"""

import json
from pathlib import Path

import pytest
import yaml

from planner.fit.readers import catalog_model, read_results
from planner.fit.records import MeasurementError, read_csv

DATA = Path(__file__).parent / "data"


def by_metric(rows):
    """{metric: row} of the rows of one run (metrics are unique within a run)."""
    out = {r.metric: r for r in rows}
    assert len(out) == len(rows)
    return out


def write_json(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# ---------------------------------------------------------------- vLLM bench serve
# Keys: vllm/benchmarks/serve.py @def9ce85 (main_async result_json, benchmark() result,
# process_one_metric: mean_/median_/std_/p{q}_{ttft,tpot,itl,e2el}_ms); the same layout as
# benchmarks/benchmark_serving.py @0049e29c.


def test_vllm_closed_loop_run_in_seconds_and_mean_lengths():
    rows = read_results(DATA / "vllm_serve_concurrency16.json", engine="vllm", hardware="H100")
    m = by_metric(rows)
    assert set(m) == {
        "request_s",
        "output_tok_s",
        "total_tok_s",
        *(f"{k}_{s}_s" for k in ("ttft", "tpot", "itl") for s in ("mean", "p50", "p99")),
    }  # default --percentile-metrics ttft,tpot,itl and --metric-percentiles 99: no e2e
    row = m["ttft_mean_s"]
    assert row.value == pytest.approx(250.0 / 1000)  # mean_ttft_ms 250.0
    assert m["ttft_p50_s"].value == pytest.approx(0.240) and m["ttft_p50_s"].where == (
        "median_ttft_ms"
    )
    assert m["itl_p99_s"].value == pytest.approx(0.060)
    assert m["tpot_mean_s"].value == pytest.approx(0.0225)
    assert (m["request_s"].value, m["output_tok_s"].value) == (5.0, 640.0)
    assert (row.load, row.load_value) == ("concurrency", 16.0)  # max_concurrency, rate inf
    assert row.input_tokens == 204800 / 200 and row.output_tokens == 25600 / 200
    assert row.num_requests == 200
    assert (row.model, row.model_as_published) == (
        "llama-3.1-8b",
        "meta-llama/Llama-3.1-8B-Instruct",
    )
    assert (row.engine, row.hardware, row.tp, row.quant) == ("vllm", "H100-SXM", 1, "bf16")
    assert row.source == "vllm_serve_concurrency16.json"
    assert row.dataset == "fixed" and "whole-number means over 200 requests" in row.notes


@pytest.mark.parametrize(
    ("given", "dataset"), [({}, "varied"), ({"dataset": "sharegpt"}, "sharegpt")]
)
def test_vllm_fractional_mean_length_proves_varied_lengths(tmp_path, given, dataset):
    data = json.loads((DATA / "vllm_serve_concurrency16.json").read_text())
    data["total_input_tokens"] = 204801  # mean 1024.005: not every prompt has the same length
    path = write_json(tmp_path, "r.json", data)
    row = read_results(path, engine="vllm", hardware="H100", **given)[0]
    assert (row.dataset, row.input_tokens) == (dataset, 204801 / 200)


def test_vllm_rate_run_takes_gpu_and_tp_from_metadata_and_engine_from_backend():
    rows = read_results(DATA / "vllm_serve_rate4.json")  # --metadata gpu=H100 tp=2, --backend vllm
    m = by_metric(rows)
    row = m["e2e_p90_s"]
    assert row.value == pytest.approx(1600.0 * 1.5 / 1000)  # p90_e2el_ms 2400.0
    assert (row.load, row.load_value) == ("rate", 4.0)
    assert (row.hardware, row.tp, row.engine, row.model) == ("H100-SXM", 2, "vllm", "qwen2.5-7b")
    assert row.input_tokens == 51200 / 100 and row.output_tokens == 12800 / 100
    assert "itl_p90_s" not in m  # capplan has no P90 ITL metric
    assert m["ttft_p50_s"].where == "median_ttft_ms"  # median wins over the equal p50 key
    assert "2 requests failed" in row.notes


def test_vllm_append_result_file_gives_one_run_per_line():
    rows = read_results(DATA / "vllm_serve_append.json", engine="vllm", hardware="H100")
    first = [r for r in rows if r.where.startswith("line 1: ")]
    second = [r for r in rows if r.where.startswith("line 2: ")]
    assert len(first) + len(second) == len(rows) == 24
    assert (first[0].load, first[0].load_value) == ("offline", None)  # rate inf, no cap
    assert (second[0].load, second[0].load_value) == ("rate", 2.0)
    assert "burstiness 0.5" in second[0].notes
    assert by_metric(second)["ttft_mean_s"].value == pytest.approx(0.060)


def test_keywords_override_the_setup_but_only_fill_the_load():
    rows = read_results(
        DATA / "vllm_serve_rate4.json", hardware="A100-80GB", tp=4, quant="fp8", concurrency=8
    )
    row = rows[0]
    assert (row.hardware, row.tp, row.quant) == ("A100-SXM4-80GB", 4, "fp8")
    assert (row.load, row.load_value) == ("rate", 4.0)  # the file's load stands


# ---------------------------------------------------------------- vLLM bench throughput
# Keys: vllm/benchmarks/throughput.py @1a91bc2d (main: elapsed_time, num_requests,
# total_num_tokens, requests_per_second, tokens_per_second).


def test_vllm_throughput_splits_total_tokens_with_the_given_output_length():
    rows = read_results(
        DATA / "vllm_throughput.json", hardware="H100", model="llama-3.1-8b", output_tokens=128
    )
    m = by_metric(rows)
    row = m["output_tok_s"]
    assert row.input_tokens == 1152000 / 1000 - 128
    assert row.value == pytest.approx(1000 * 128 / 50.0)  # requests x output / elapsed_time
    assert (m["request_s"].value, m["total_tok_s"].value) == (20.0, 23040.0)
    assert (row.load, row.engine, row.num_requests) == ("offline", "vllm", 1000)


def test_vllm_throughput_needs_one_length_that_fits_the_total():
    path = DATA / "vllm_throughput.json"
    with pytest.raises(MeasurementError, match=r"1152 tokens per request.*--input-tokens or"):
        read_results(path, hardware="H100", model="llama-3.1-8b")
    with pytest.raises(MeasurementError, match="do not match the file's 1152 tokens"):
        read_results(
            path, hardware="H100", model="llama-3.1-8b", input_tokens=1000, output_tokens=100
        )


# ---------------------------------------------------------------- GuideLLM
# Keys: guidellm @ee7a774 (0.7.x) src/guidellm/benchmark/schemas/{report,benchmark,base,
# metrics}.py and schemas/statistics.py (DistributionSummary: mean, median, percentiles.pNN);
# strategies in scheduler/strategies.py (type_, streams, rate). 0.4 layout: report.args and
# benchmark.config (tag v0.4.0 schemas/generative/*.py).


def test_guidellm_07_report_one_row_per_benchmark_and_metric():
    rows = read_results(DATA / "guidellm_v07_benchmarks.json")  # labels gpu=H200 engine=vllm
    runs = [[r for r in rows if r.where.startswith(f"benchmarks[{i}]")] for i in range(3)]
    assert [len(run) for run in runs] == [15, 15, 15]
    loads = [(run[0].load, run[0].load_value) for run in runs]
    assert loads == [("concurrency", 1.0), ("concurrency", 8.0), ("rate", 3.0)]
    sync, conc, poisson = (by_metric(run) for run in runs)
    assert conc["ttft_p99_s"].value == pytest.approx(250.0 / 1000)
    assert sync["tpot_mean_s"].value == pytest.approx(7.5 / 1000)  # inter_token_latency_ms
    assert "inter_token_latency_ms" in sync["tpot_mean_s"].where
    assert conc["e2e_mean_s"].value == 1.5  # request_latency is in seconds already
    assert not any("time_per_output_token_ms" in r.where for r in rows)  # includes the TTFT
    assert (sync["request_s"].num_requests, sync["request_s"].input_tokens) == (24, 512.0)
    assert (sync["request_s"].dataset, poisson["request_s"].dataset) == ("fixed", "varied")
    row = poisson["output_tok_s"]
    assert (row.hardware, row.engine, row.model) == ("H200-SXM", "vllm", "llama-3.1-8b")
    assert "guidellm 0.7.3" in row.notes


def test_guidellm_04_report_throughput_is_offline_and_constant_rate_is_a_rate():
    rows = read_results(DATA / "guidellm_v04_benchmarks.json", engine="vllm", hardware="H100")
    throughput = by_metric([r for r in rows if r.where.startswith("benchmarks[0]")])
    constant = by_metric([r for r in rows if r.where.startswith("benchmarks[1]")])
    assert (throughput["request_s"].load, throughput["request_s"].load_value) == ("offline", None)
    assert (constant["request_s"].load, constant["request_s"].load_value) == ("rate", 2.0)
    assert "constant inter-arrival times" in constant["request_s"].notes
    assert throughput["output_tok_s"].value == 12.0 * 64  # output_tokens_per_second mean
    assert throughput["ttft_p90_s"].value == pytest.approx(1.5)  # percentiles.p90 1500 ms
    assert constant["request_s"].model == "qwen2.5-7b"


def test_guidellm_03_layout_has_the_strategy_in_args_and_the_model_in_worker(tmp_path):
    # guidellm v0.3.0 tests/unit/entrypoints/assets/benchmarks_stripped.json: the report is
    # {benchmarks}; each has args.strategy, worker.backend_model and request_totals beside the
    # metrics, whose percentiles have no p50 (the median is read)
    b = json.loads((DATA / "guidellm_v04_benchmarks.json").read_text())["benchmarks"][1]
    metrics = b["metrics"]
    totals = metrics.pop("request_totals")
    for by_status in metrics.values():
        for summary in by_status.values():
            summary["percentiles"].pop("p50")
    old = {
        "type_": "generative_benchmark",
        "args": {"strategy": b["config"]["strategy"], "max_duration": 30.0},
        "worker": {"backend_type": "openai_http", "backend_model": "Qwen/Qwen2.5-7B-Instruct"},
        "request_totals": totals,
        "metrics": metrics,
    }
    path = write_json(tmp_path, "v03.json", {"benchmarks": [old]})
    m = by_metric(read_results(path, engine="sglang", hardware="H100"))
    row = m["ttft_p50_s"]
    assert row.value == pytest.approx(0.038)  # median 38 ms
    assert (row.load, row.load_value, row.num_requests) == ("rate", 2.0, 60)
    assert row.model == "qwen2.5-7b" and "guidellm (0.3-0.4 report" in row.notes


def test_guidellm_yaml_report_reads_like_the_json(tmp_path):
    report = json.loads((DATA / "guidellm_v04_benchmarks.json").read_text())
    report["benchmarks"] = report["benchmarks"][:1]
    path = tmp_path / "benchmarks.yaml"
    path.write_text(yaml.safe_dump(report))
    got = read_results(path, engine="vllm", hardware="H100")
    want = read_results(DATA / "guidellm_v04_benchmarks.json", engine="vllm", hardware="H100")
    assert [(r.metric, r.value) for r in got] == [(r.metric, r.value) for r in want[:15]]


# ---------------------------------------------------------------- genai-perf / AIPerf
# Keys: perf_analyzer @263c5f6 genai-perf/genai_perf/export_data/{json,csv}_exporter.py,
# metrics/{statistics,llm_metrics}.py (avg, p1..p99, min, max, std; times in ms; ITL =
# (latency - TTFT) / (OSL - 1) per request); aiperf @db4f639 aiperf/exporters/json_exporter.py,
# common/models/export_models.py (JsonExportData, input_config = UserConfig).


def test_genai_perf_json_reads_concurrency_from_input_config_and_itl_as_tpot():
    rows = read_results(DATA / "profile_export_genai_perf.json", engine="trtllm", hardware="H100")
    m = by_metric(rows)
    row = m["tpot_mean_s"]
    assert row.value == pytest.approx(2.9 / 1000)  # inter_token_latency avg 2.9 ms
    assert m["e2e_p99_s"].value == pytest.approx(0.800)  # request_latency p99 800 ms
    assert (m["request_s"].value, m["output_tok_s"].value) == (6.4, 1280.0)
    assert (row.load, row.load_value) == ("concurrency", 4.0)  # perf_analyzer.stimulus
    assert (row.input_tokens, row.output_tokens, row.num_requests) == (550.0, 200.0, 320)
    assert (row.dataset, row.model, row.engine) == ("fixed", "llama-3.1-8b", "trtllm")
    assert not any(k.startswith("itl") for k in m)


def test_aiperf_json_reads_the_request_rate_from_loadgen():
    rows = read_results(DATA / "profile_export_aiperf.json", engine="sglang", hardware="H100")
    m = by_metric(rows)
    row = m["ttft_p90_s"]
    assert row.value == pytest.approx(0.041)
    assert (row.load, row.load_value, row.model) == ("rate", 5.0, "qwen2.5-7b")
    assert (row.output_tokens, row.dataset) == (124.5, "varied")  # OSL std 6 tokens
    assert row.notes.startswith("AIPerf")


def test_old_genai_perf_flat_input_config(tmp_path):
    data = json.loads((DATA / "profile_export_genai_perf.json").read_text())
    # genai-perf before the config-file rewrite (perf_analyzer @9fd79801^): vars(args)
    data["input_config"] = {
        "model": ["mistralai/Mistral-7B-Instruct-v0.3"],
        "concurrency": 2,
        "request_rate": None,
        "backend": "tensorrtllm",
    }
    rows = read_results(write_json(tmp_path, "old.json", data), engine="trtllm", hardware="L40S")
    assert (rows[0].load, rows[0].load_value, rows[0].model) == ("concurrency", 2.0, "mistral-7b")


def test_genai_perf_csv_takes_model_and_load_from_the_options():
    path = DATA / "profile_export_genai_perf.csv"
    kw = dict(engine="vllm", hardware="H100", model="meta-llama/Llama-3.1-8B-Instruct")
    m = by_metric(read_results(path, concurrency=4, **kw))
    assert m["e2e_mean_s"].value == pytest.approx(1.625)  # "1,625.00" ms
    assert m["output_tok_s"].value == 1280.0  # "1,280.00" in the Metric,Value section
    assert (m["request_s"].value, m["request_s"].num_requests) == (6.4, 320)
    assert (m["tpot_p50_s"].load, m["tpot_p50_s"].load_value) == ("concurrency", 4.0)
    with pytest.raises(MeasurementError, match=r"the load .* pass --concurrency N or --request"):
        read_results(path, **kw)


def test_capplan_csv_is_read_by_read_csv():
    path = DATA / "capplan_plain.csv"
    assert read_results(path) == read_csv(path)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("published", "name", "quant"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b", None),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama-3.1-70b", None),
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b", None),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b", None),
        ("deepseek-ai/DeepSeek-V3", "deepseek-v3", None),
        ("/models/Qwen3-30B-A3B/", "qwen3-30b-a3b", None),
        ("neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8", "llama-3.1-8b", "fp8"),
        ("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", "llama-3.1-70b", "int4"),
    ],
)
def test_published_model_ids_map_to_catalog_names(published, name, quant):
    assert catalog_model("x.json", published) == (name, quant)


def test_a_static_batch_metric_on_another_load_is_rejected():
    from pydantic import ValidationError

    from planner.fit.records import Measurement

    row = dict(source="s", citation="c", where="w", engine="vllm", model="llama-3.1-8b",
               hardware="H100-SXM", tp=1, load="rate", load_value=2.0, dataset="fixed",
               input_tokens=512, output_tokens=128, metric="batch_prefill_s",
               value=0.5)  # fmt: skip
    with pytest.raises(ValidationError, match="batch_prefill_s is defined for load 'batch'"):
        Measurement(**row)
    assert Measurement(**{**row, "load": "batch", "load_value": 8}).value == 0.5


def test_unknown_model_and_gpu_list_the_closest_catalog_names():
    path = DATA / "vllm_serve_concurrency16.json"
    with pytest.raises(MeasurementError, match=r"Llama-3.3-70B.*closest: .*llama-3.1-70b.*--model"):
        read_results(path, engine="vllm", hardware="H100", model="meta-llama/Llama-3.3-70B")
    with pytest.raises(MeasurementError, match=r"unknown accelerator 'H900'.*--hardware"):
        read_results(path, engine="vllm", hardware="H900")
    with pytest.raises(MeasurementError, match=r"unknown engine 'tgi'"):
        read_results(path, engine="tgi", hardware="H100")


# ---------------------------------------------------------------- bad files


def test_missing_gpu_names_the_file_and_the_option():
    with pytest.raises(MeasurementError) as err:
        read_results(DATA / "vllm_serve_concurrency16.json", engine="vllm")
    assert str(err.value).endswith(
        "vllm_serve_concurrency16.json: the GPU is not recorded in the file; "
        "pass --hardware (capplan hardware list)"
    )


def test_several_missing_fields_are_named_in_one_error():
    # backend "openai" names the client API, not the serving engine
    with pytest.raises(MeasurementError, match=r"serving engine \(pass --engine.*GPU \(pass"):
        read_results(DATA / "vllm_serve_concurrency16.json")


@pytest.mark.parametrize(
    ("text", "name"), [('{"foo": 1}', "x.json"), ("hello, world\n", "x.txt"), ("", "x.csv")]
)
def test_unknown_format_lists_the_accepted_formats(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MeasurementError, match=r"not a results file.*vllm bench serve.*GuideLLM"):
        read_results(path)


def test_vllm_result_without_a_required_key_names_the_key_and_the_format(tmp_path):
    data = json.loads((DATA / "vllm_serve_concurrency16.json").read_text())
    del data["total_output_tokens"]
    with pytest.raises(
        MeasurementError,
        match="'total_output_tokens' is missing; expected the "
        r"result JSON of `vllm bench serve --save-result` \(vLLM 0.4\+\)",
    ):
        read_results(write_json(tmp_path, "r.json", data), engine="vllm", hardware="H100")


def test_genai_perf_export_without_sequence_lengths_names_the_key(tmp_path):
    data = json.loads((DATA / "profile_export_genai_perf.json").read_text())
    del data["output_sequence_length"]  # as in an embeddings-endpoint export
    with pytest.raises(
        MeasurementError,
        match="'output_sequence_length' is missing; expected a "
        "genai-perf or AIPerf profile export of an LLM endpoint",
    ):
        read_results(write_json(tmp_path, "g.json", data), engine="vllm", hardware="H100")


def test_guidellm_benchmark_without_a_metric_names_the_key(tmp_path):
    data = json.loads((DATA / "guidellm_v04_benchmarks.json").read_text())
    del data["benchmarks"][1]["metrics"]["output_token_count"]
    path = write_json(tmp_path, "b.json", data)
    with pytest.raises(
        MeasurementError,
        match=r"benchmarks\[1\].metrics: key "
        "'output_token_count' is missing; expected a GuideLLM 0.3-0.7",
    ):
        read_results(path, engine="vllm", hardware="H100")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ramp_up_strategy": "linear"}, "ramp-up run .* has no single request rate"),
        ({"completed": 0}, r"no request completed \(completed = 0\)"),
        ({"request_rate": "fast"}, "request_rate is 'fast', not a number"),
    ],
)
def test_vllm_runs_without_a_single_load_are_rejected(tmp_path, change, message):
    data = json.loads((DATA / "vllm_serve_concurrency16.json").read_text()) | change
    with pytest.raises(MeasurementError, match=message):
        read_results(write_json(tmp_path, "r.json", data), engine="vllm", hardware="H100")


def test_guidellm_trace_replay_has_no_fixed_load(tmp_path):
    data = json.loads((DATA / "guidellm_v04_benchmarks.json").read_text())
    data["benchmarks"][0]["config"]["strategy"] = {"type_": "trace", "time_scale": 1.0}
    with pytest.raises(MeasurementError, match=r"benchmarks\[0\]: strategy 'trace' has no fixed"):
        read_results(write_json(tmp_path, "b.json", data), engine="vllm", hardware="H100")
