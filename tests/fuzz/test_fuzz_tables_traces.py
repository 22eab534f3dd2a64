"""Fuzz of the CSV/JSONL readers: capacity tables (TableCapacity.from_csv), request traces
(Workload.from_trace and a plan's trace traffic). Cells are drawn good or corrupted (blank,
text, NaN/inf strings, negative, fractional counts, unicode), columns may be missing, files
may be empty or not UTF-8. Each read gives a table of finite values in range, or one error
naming the file; never a traceback or a silently dropped / coerced cell."""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fuzz_support import FUZZ, GOOD_FLOATS, GOOD_INTS, cell, outcome
from hypothesis import given
from hypothesis import strategies as st

from planner.mix import PlanSpecError, load_plan
from planner.mix.capacity import TableCapacity
from planner.mix.traffic import model_buckets
from planner.workload import Workload, WorkloadError

TABLE_COLUMNS = {
    "gpu": st.sampled_from(["A10G", "L4", "h100", "Mystery GPU", "", " "]),
    "input_tokens": cell(GOOD_INTS),
    "output_tokens": cell(GOOD_INTS),
    "max_rate_rps": cell(GOOD_FLOATS),
    "tp": cell(st.sampled_from(["1", "2", "4", ""])),
    "pp": cell(st.sampled_from(["1", "2", ""])),
    "tpot_s": cell(GOOD_FLOATS),
    "model": st.sampled_from(["", "llama-3.1-8b", "ü-model"]),
}
TRACE_COLUMNS = {
    "input_tokens": cell(GOOD_INTS),
    "output_tokens": cell(GOOD_INTS),
    "arrival_time": cell(GOOD_FLOATS),
    "weight": cell(GOOD_FLOATS),
}


@st.composite
def csv_texts(draw, columns: dict, required: tuple[str, ...]):
    """A CSV with the required columns (one may be dropped) plus some optional ones."""
    names = list(required)
    if draw(st.integers(0, 9)) == 0:
        names.remove(draw(st.sampled_from(names)))
    names += draw(st.lists(st.sampled_from([c for c in columns if c not in required]), unique=True))
    rows = draw(
        st.lists(st.fixed_dictionaries({c: columns[c] for c in names}), min_size=0, max_size=6)
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _write(tmp: str, name: str, content: str | bytes) -> Path:
    path = Path(tmp) / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


RAW = st.one_of(st.text(max_size=80), st.binary(max_size=40), st.just(""), st.just("a,b\n"))
TEXT = st.one_of(st.text(max_size=80), st.just(""), st.just("a,b\n"))


# ---- capacity tables ----------------------------------------------------------------------
def _check_table(table: TableCapacity) -> None:
    f = table.frame
    for col in ("input_tokens", "output_tokens"):
        assert np.isfinite(f[col]).all() and (f[col] > 0).all(), col
    assert np.isfinite(f.max_rate_rps).all() and (f.max_rate_rps >= 0).all()
    for col in ("tp", "pp"):
        assert (f[col] >= 1).all() and (f[col] == np.round(f[col])).all(), col
    for col in table.slo_columns:
        v = f[col].to_numpy(float)
        assert (np.isnan(v) | ((v > 0) & np.isfinite(v))).all(), col


@FUZZ
@given(csv_texts(TABLE_COLUMNS, ("gpu", "input_tokens", "output_tokens", "max_rate_rps")))
def test_capacity_table_is_clean_or_one_error_naming_file_row_column(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "cap.csv", text)
        table, err = outcome(TableCapacity.from_csv, path)
    if err is None:
        _check_table(table)
    else:
        assert isinstance(err, PlanSpecError) and str(path) in str(err)
        assert "\n" not in str(err).strip()


@FUZZ
@given(TEXT)
def test_capacity_table_from_any_text_is_a_table_or_a_plan_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "cap.csv", content)
        table, err = outcome(TableCapacity.from_csv, path)
    assert err is not None or table is not None


# ---- traces ---------------------------------------------------------------------------------
def _check_workload(w: Workload) -> None:
    assert w.input_tokens.size > 0
    assert (w.input_tokens >= 1).all() and (w.output_tokens >= 1).all()
    assert np.isfinite(w.weights).all() and (w.weights >= 0).all()
    assert math.isclose(w.weights.sum(), 1.0, rel_tol=1e-9)
    if w.arrival_s is not None:
        assert np.isfinite(w.arrival_s).all() and (np.diff(w.arrival_s) >= 0).all()


@FUZZ
@given(csv_texts(TRACE_COLUMNS, ("input_tokens", "output_tokens")))
def test_csv_trace_is_a_clean_workload_or_one_error_naming_the_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "trace.csv", text)
        w, err = outcome(Workload.from_trace, path)
    if err is None:
        _check_workload(w)
    else:
        assert isinstance(err, WorkloadError) and str(path) in str(err)


@st.composite
def jsonl_texts(draw):
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["[1, 2]", "3", '"x"', "null", "{", "🙂"])))
            continue
        row = {
            c: draw(st.one_of(st.integers(-3, 5000), st.floats(), st.text(max_size=4)))
            for c in draw(st.lists(st.sampled_from(list(TRACE_COLUMNS)), unique=True))
        }
        lines.append(json.dumps(row))
    return "\n".join(lines)


@FUZZ
@given(jsonl_texts())
def test_jsonl_trace_is_a_clean_workload_or_one_error_naming_the_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "trace.jsonl", text)
        w, err = outcome(Workload.from_trace, path)
    if err is None:
        _check_workload(w)
    else:
        assert isinstance(err, WorkloadError) and str(path) in str(err)


@FUZZ
@given(RAW, st.sampled_from(["trace.csv", "trace.jsonl"]))
def test_trace_from_any_bytes_is_a_workload_or_a_workload_error(content, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, name, content)
        w, err = outcome(Workload.from_trace, path)
    if err is None:
        _check_workload(w)


PLAN_WITH_TRACE = {
    "models": [{"name": "m", "traffic": {"trace": {"path": "trace.csv"}}}],
    "gpus": [{"name": "L4"}],
    "capacity": {"table": "cap.csv"},
}


@FUZZ
@given(
    csv_texts({**TRACE_COLUMNS, "arrival_s": cell(GOOD_FLOATS)}, ("input_tokens", "output_tokens")),
    st.none() | st.floats(0.1, 100),
)
def test_plan_trace_traffic_gives_buckets_with_shares_summing_to_one_or_a_plan_error(text, rate):
    data = yaml.safe_load(yaml.safe_dump(PLAN_WITH_TRACE))
    if rate is not None:
        data["models"][0]["rate_rps"] = rate
    with tempfile.TemporaryDirectory() as tmp:
        _write(tmp, "trace.csv", text)
        plan_path = _write(tmp, "plan.yaml", yaml.safe_dump(data))
        spec = load_plan(plan_path)
        got, err = outcome(model_buckets, spec, spec.models[0])
    if err is not None:
        assert isinstance(err, PlanSpecError)
        return
    buckets, total = got
    assert math.isfinite(total) and total > 0
    assert np.isfinite(buckets.prob).all() and (buckets.prob >= 0).all()
    assert math.isclose(buckets.prob.sum(), 1.0, rel_tol=1e-9)
    assert (buckets.input_tokens >= 1).all() and (buckets.output_tokens >= 1).all()


# ---- found by the fuzz, inside planner/mix (being edited elsewhere): not fixed here ----------
MIX_OWNED = "planner/mix is being edited by another engineer; reported, not fixed here"


def test_capacity_table_that_is_not_utf8_is_a_plan_error():
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "cap.csv", b"\x80")
        with pytest.raises(PlanSpecError, match=r"cap\.csv"):
            TableCapacity.from_csv(path)


def test_plan_trace_that_is_not_utf8_is_a_plan_error():
    data = yaml.safe_load(yaml.safe_dump(PLAN_WITH_TRACE))
    with tempfile.TemporaryDirectory() as tmp:
        _write(tmp, "trace.csv", b"input_tokens,output_tokens\n\x80,1\n")
        spec = load_plan(_write(tmp, "plan.yaml", yaml.safe_dump(data)))
        with pytest.raises(PlanSpecError, match=r"trace\.csv"):
            model_buckets(spec, spec.models[0])


def test_capacity_table_with_a_blank_model_column_reads_without_a_pandas_deprecation():
    """A ``model`` column left blank on every row is read as floats (NaN); filling it with ''
    warns now and will raise in pandas 4."""
    text = "gpu,input_tokens,output_tokens,max_rate_rps,model\nL4,512,128,1.0,\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "cap.csv", text)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.Pandas4Warning)
            table = TableCapacity.from_csv(path)
    assert table.frame["model"].tolist() == [""]
