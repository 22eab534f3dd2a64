"""An engine keeps the workloads it prepared (planner.serving.prepared.prepare): asking the
same replica about the same workload again reuses the rate-free tables and random numbers,
and gives the same answer as a freshly built replica."""

import perfmodel as pm
from planner.serving import SLO, engine_for, max_rate_under_slo, prepare
from planner.serving.prepared import KEPT
from planner.workload import Workload


def _engine():
    return engine_for("llama-2-7b", "A10G", pm.Parallelism(), "chunked")


def test_the_same_workload_content_is_prepared_once_per_engine():
    engine = _engine()
    a = prepare(engine, Workload.fixed(512, 128))
    assert prepare(engine, Workload.fixed(512, 128)) is a  # equal content, another object
    assert prepare(engine, Workload.fixed(512, 129)) is not a
    assert prepare(_engine(), Workload.fixed(512, 128)) is not a  # another engine


def test_an_engine_keeps_only_its_last_few_workloads():
    engine = _engine()
    first = prepare(engine, Workload.fixed(100, 10))
    for k in range(KEPT):
        prepare(engine, Workload.fixed(200 + k, 10))
    assert len(engine.prepared) == KEPT
    assert prepare(engine, Workload.fixed(100, 10)) is not first


def test_a_repeated_max_rate_equals_the_first_answer_on_a_fresh_engine():
    slo = SLO(ttft_s=1.0, tpot_s=0.1, percentile=0.9)
    wl = Workload.bundled("code")
    engine = engine_for("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2), "chunked")
    first = max_rate_under_slo(engine, None, wl, slo)
    again = max_rate_under_slo(engine, None, wl, slo)
    fresh = max_rate_under_slo(
        engine_for("mixtral-8x7b", "H100-SXM", pm.Parallelism(tp=2), "chunked"), None, wl, slo
    )
    assert first.rate == again.rate == fresh.rate > 0
    assert again.at_rate.to_dict() == fresh.at_rate.to_dict()


def test_new_host_terms_on_a_built_replica_prepare_afresh():
    """The engine fit swaps host terms on a built replica (planner.fit): its tables must not
    come from the terms before."""
    from hardware_specs.engines import Host, get_engine
    from perfmodel.host import HostCosts

    engine = engine_for("llama-2-7b", "A10G", pm.Parallelism(), "chunked", engine="vllm-v1")
    before = prepare(engine, Workload.fixed(512, 128))
    prof = get_engine("vllm-v1").model_copy(update={"host": Host(step_s=0.05)})
    engine.steps.host = HostCosts(prof, engine.hardware, engine.steps.collectives)
    assert prepare(engine, Workload.fixed(512, 128)) is not before
