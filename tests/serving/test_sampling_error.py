"""Sampling error of the mean TTFT: the simulator's and the chunked path model's batch-means
standard errors against the spread of independent runs, and the model's extra paths."""

import math

import numpy as np

from planner.serving import Engine, analyze, prepare, simulate
from planner.serving.chunked import MAX_PATHS
from planner.workload import Workload

CHAT = Workload.bundled("chat")


def _at_load(model, gpu, scheduler, load):
    e = Engine.build(model, gpu, scheduler=scheduler)
    p = prepare(e, CHAT)
    return e, p, load * analyze(e, p, 1e-9).capacity


def test_simulated_standard_error_matches_the_spread_of_seeds():
    """Twelve 6,000-request runs at 85% load: the standard deviation of their mean TTFTs
    (relative to the grand mean) and the median batch-means estimate agree within a factor
    of two (batch means understate it somewhat when the backlog cycles are slow)."""
    e, _, rate = _at_load("mistral-7b", "A100-SXM4-80GB", "continuous", 0.85)
    runs = [simulate(e, CHAT, rate, n_requests=6000, seed=s) for s in range(12)]
    means = np.array([r.ttft.mean for r in runs])
    spread = means.std(ddof=1) / means.mean()
    rse = float(np.median([r.ttft_mean_rse for r in runs]))
    assert 0.5 < rse / spread < 2.0


def test_one_path_standard_error_matches_the_spread_of_path_seeds():
    """The same check for one path of the chunked model (Qwen2.5-7B on an A100 at 90% load,
    where one path's mean TTFT varies by ~4%): batch means over the path against the spread
    of twelve seeds."""
    e, p, rate = _at_load("qwen2.5-7b", "A100-SXM4-80GB", "chunked", 0.9)
    reps = [analyze(e, p, rate, seed=s, rse=None) for s in range(12)]
    means = np.array([r.ttft.mean for r in reps])
    spread = means.std(ddof=1) / means.mean()
    rse = float(np.median([r.ttft_mean_rse for r in reps]))
    assert spread > 0.02
    assert 0.5 < rse / spread < 2.0


def test_model_solves_the_paths_its_first_path_asks_for_and_its_spread_shrinks():
    """Two stages: the first path's relative standard error r sets k = ceil((r/3%)^2)
    paths (the note says so); pooled over them, the mean TTFT of eight seeds spreads by
    about its reported standard error, well below one path's spread."""
    e, p, rate = _at_load("qwen2.5-7b", "A100-SXM4-80GB", "chunked", 0.9)
    one = [analyze(e, p, rate, seed=s, rse=None) for s in range(8)]
    pooled = [analyze(e, p, rate, seed=s) for s in range(8)]
    ks = []
    for o, r in zip(one, pooled, strict=True):
        ks.append(min(MAX_PATHS, math.ceil((o.ttft_mean_rse / 0.03) ** 2)))
        notes = [n for n in r.notes if "paths of" in n]
        assert (int(notes[0].split()[2]) if notes else 1) == ks[-1]
    assert max(ks) > 1

    def spread(reps):
        x = np.array([r.ttft.mean for r in reps])
        return x.std(ddof=1) / x.mean()

    rse = float(np.median([r.ttft_mean_rse for r in pooled]))
    assert spread(pooled) < 0.7 * spread(one)
    assert 0.5 < rse / spread(pooled) < 2.0


def test_closed_form_models_report_no_sampling_error_and_overload_none():
    e, p, rate = _at_load("mistral-7b", "A100-SXM4-80GB", "continuous", 0.5)
    assert analyze(e, p, rate).ttft_mean_rse is None
    e, p, rate = _at_load("mistral-7b", "A100-SXM4-80GB", "chunked", 1.2)
    assert analyze(e, p, rate).ttft_mean_rse is None


def test_too_few_virtual_requests_for_batch_means_give_no_error_rather_than_nan():
    """Under two virtual requests per batch (16 batches) there is no estimate: None, one
    path, and finite latencies."""
    e, p, rate = _at_load("qwen2.5-7b", "A100-SXM4-80GB", "chunked", 0.9)
    r = analyze(e, p, rate, samples=16)
    assert r.ttft_mean_rse is None
    assert not [n for n in r.notes if "paths of" in n]
    assert np.isfinite(r.ttft.mean) and np.isfinite(r.ttft.p90)
