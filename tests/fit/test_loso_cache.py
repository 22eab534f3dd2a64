"""Leave-one-source-out folds are saved as they finish and reused by the next run."""

import pandas as pd
import pytest

from planner.fit import loso
from planner.fit.records import Measurement


def row(source: str, value: float = 1.0) -> Measurement:
    return Measurement(source=source, engine="vllm", model="llama-3.1-8b", hardware="H100-SXM",
                       load="offline", input_tokens=512, output_tokens=256,
                       metric="output_tok_s", value=value)  # fmt: skip


@pytest.fixture
def fits(monkeypatch):
    """A stand-in fold: ratio 2 for source 'a', 0.5 for 'b', nothing to predict for 'c';
    the list records which sources were fitted."""
    calls = []

    def held_out(rows, source, priors, fit_scale):
        calls.append(source)
        if source == "c":
            return None
        ratio = {"a": 2.0, "b": 0.5}[source]
        return pd.DataFrame({"source": [source], "metric": ["output_tok_s"],
                             "ratio": [ratio]})  # fmt: skip

    monkeypatch.setattr(loso, "held_out", held_out)
    return calls


ROWS = [row("a"), row("b"), row("c")]


def test_a_second_run_reads_every_fold_from_the_cache_without_fitting(fits, tmp_path):
    first = loso.leave_one_source_out(ROWS, {}, cache=tmp_path)
    assert sorted(fits) == ["a", "b", "c"]
    again = loso.leave_one_source_out(ROWS, {}, cache=tmp_path)
    assert sorted(fits) == ["a", "b", "c"]  # no new fit
    assert sorted(again.table.ratio) == sorted(first.table.ratio) == [0.5, 2.0]


def test_a_stopped_run_resumes_with_the_folds_it_finished(fits, tmp_path):
    loso.leave_one_source_out(ROWS, {}, cache=tmp_path)
    files = loso.FoldFiles(tmp_path, ROWS, {}, False)
    files.path("b").unlink()  # as if the run had stopped before fold b
    fits.clear()
    out = loso.leave_one_source_out(ROWS, {}, cache=tmp_path)
    assert fits == ["b"]
    assert sorted(out.table.ratio) == [0.5, 2.0]


def test_changed_data_starts_afresh(fits, tmp_path):
    loso.leave_one_source_out(ROWS, {}, cache=tmp_path)
    fits.clear()
    loso.leave_one_source_out([row("a", 2.0), row("b"), row("c")], {}, cache=tmp_path)
    assert sorted(fits) == ["a", "b", "c"]
