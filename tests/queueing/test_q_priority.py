"""Cobham priorities, SJF, SRPT and processor sharing vs simulation, ciw and hand values."""

import json
import math

import ciw
import numpy as np
import pytest

from queueing import (
    MG1,
    SJF,
    SRPT,
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    PriorityMG1,
    ProcessorSharing,
    QueueingInputError,
    batch_means,
    simulate_discipline,
    simulate_priority,
)

CLASSES = [Exponential(1.0), Deterministic(1.0), Gamma(0.5, 1.0)]


def test_two_class_nonpreemptive_mm1_by_hand():
    # W0 = Σ λ_i E[S_i²]/2 = 2 · 0.4 · 2/2 = 0.8; W1 = W0/(1-0.4); W2 = W0/((1-0.4)(1-0.8))
    q = PriorityMG1([0.4, 0.4], [Exponential(1.0), Exponential(1.0)])
    assert q.class_mean_wait == pytest.approx([0.8 / 0.6, 0.8 / 0.12], rel=1e-12)


def test_single_class_priority_queue_is_mg1():
    q = PriorityMG1([0.7], [Gamma(0.5, 1.0)])
    assert q.mean_wait == pytest.approx(MG1(0.7, Gamma(0.5, 1.0)).mean_wait, rel=1e-12)


@pytest.mark.parametrize("preemptive", [False, True])
@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_priority_classes_within_4_se_of_simulation(preemptive, rho):
    rates = [rho / 3] * 3
    q = PriorityMG1(rates, CLASSES, preemptive)
    runs = simulate_priority(rates, CLASSES, preemptive, n=400_000 if rho > 0.9 else 200_000)
    for expected, run in zip(q.class_mean_sojourn, runs):
        assert abs(run.mean_sojourn().z(expected)) < 4


@pytest.mark.parametrize("preemptive", [False, True])
def test_priority_classes_agree_with_ciw(preemptive):
    ranks = {"Class 0": 0, "Class 1": 1}
    net = ciw.create_network(
        arrival_distributions={c: [ciw.dists.Exponential(rate=0.35)] for c in ranks},
        service_distributions={c: [ciw.dists.Exponential(rate=1.0)] for c in ranks},
        number_of_servers=[1],
        priority_classes=(ranks, ["resume"]) if preemptive else ranks,
    )
    ciw.seed(8)
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(15_000)
    recs = sorted(sim.get_all_records(), key=lambda r: r.arrival_date)
    q = PriorityMG1([0.35, 0.35], [Exponential(1.0), Exponential(1.0)], preemptive)
    for i, cls in enumerate(ranks):
        soj = np.array(
            [r.exit_date - r.arrival_date for r in recs if r.customer_class == cls]
            if not preemptive
            else [
                r.exit_date - r.arrival_date
                for r in recs
                if r.customer_class == cls and r.record_type == "service"
            ]
        )
        assert abs(batch_means(soj[len(soj) // 20 :], 10).z(q.class_mean_sojourn[i])) < 4


def test_preemptive_top_class_does_not_see_lower_classes():
    q = PriorityMG1([0.3, 0.5], [Exponential(1.0), Gamma(0.5, 2.0)], preemptive=True)
    assert q.class_mean_sojourn[0] == pytest.approx(MG1(0.3, Exponential(1.0)).mean_sojourn)


def test_overloaded_low_class_is_infinite_while_top_class_is_finite():
    q = PriorityMG1([0.5, 0.7], [Exponential(1.0), Exponential(1.0)])
    assert math.isfinite(q.class_mean_sojourn[0]) and q.class_mean_sojourn[1] == math.inf
    d = q.to_dict()
    assert d["overloaded"] is True
    json.dumps(d, allow_nan=False)


SIZE_LAWS = [
    Exponential(1.0),
    Gamma(0.5, 1.0),
    LogNormal.from_mean_cv(1.0, 1.0),
    Empirical([1, 2, 2, 5]),
]
DISCIPLINES = {"sjf": SJF, "srpt": SRPT, "ps": ProcessorSharing}


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("law", SIZE_LAWS, ids=lambda law: law.name)
@pytest.mark.parametrize("name", list(DISCIPLINES))
def test_size_based_disciplines_within_4_se_of_simulation(name, law, rho):
    lam = rho / law.mean
    model = DISCIPLINES[name](lam, law)
    run = simulate_discipline(lam, law, name, n=300_000 if rho > 0.9 else 150_000, rng=41)
    assert abs(run.mean_sojourn().z(model.mean_sojourn)) < 4


def test_processor_sharing_mean_is_mean_size_over_one_minus_rho():
    assert ProcessorSharing(0.5, Gamma(0.5, 1.0)).mean_sojourn == pytest.approx(2.0)


def test_srpt_beats_sjf_beats_fcfs_for_variable_sizes():
    law, lam = Gamma(0.5, 1.0), 0.8
    fcfs = MG1(lam, law).mean_sojourn
    assert SRPT(lam, law).mean_sojourn < SJF(lam, law).mean_sojourn < fcfs


def test_size_based_disciplines_reduce_to_fcfs_for_equal_sizes():
    fcfs = MG1(0.8, Deterministic(1.0)).mean_sojourn
    assert SJF(0.8, Deterministic(1.0)).mean_sojourn == pytest.approx(fcfs, rel=1e-9)
    assert SRPT(0.8, Deterministic(1.0)).mean_sojourn == pytest.approx(fcfs, rel=1e-9)


def test_bad_priority_arguments_raise_a_queueing_input_error():
    with pytest.raises(QueueingInputError, match="arrival_rates"):
        PriorityMG1([0.1, 0.2], [Exponential(1.0)])
    with pytest.raises(QueueingInputError, match=r"arrival_rates\[1\]"):
        PriorityMG1([0.1, -0.2], [Exponential(1.0), Exponential(1.0)])
    with pytest.raises(QueueingInputError, match="discipline"):
        simulate_discipline(0.5, Exponential(1.0), "lifo", n=100)
