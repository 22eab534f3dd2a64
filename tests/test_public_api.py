"""The public API that notebooks and dashboards import (docs/api.md) stays put.

(a) every example in docs/api.md runs (doctest, from the repository root);
(b) every documented name still exists with the same signature: a snapshot in
    tests/data/public_api.json holds {qualified name: signature} (for a class: its constructor
    signature and its public methods and properties); a name that disappears, changes or is
    added without being documented fails with the name;
(c) every result type has ``.to_frame()`` (a pandas DataFrame) and ``.to_dict()`` (what
    ``json.dumps(..., allow_nan=False)`` accepts), checked on a small real instance.

Changing the API on purpose: document the name in docs/api.md, then rewrite the snapshot with

    python tests/test_public_api.py --update

and commit docs/api.md and tests/data/public_api.json together.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
SNAPSHOT = Path(__file__).resolve().parent / "data" / "public_api.json"
UPDATE = "python tests/test_public_api.py --update"

#: packages whose whole ``__all__`` is public
FULL = ("hardware_specs", "perfmodel", "queueing", "planner", "planner.serving", "planner.search")
#: the public part of packages whose ``__all__`` is wider (docs/api.md says why)
PARTS = {
    "planner.mix": (
        "Baseline",
        "HeadroomCost",
        "PlanSpecError",
        "PoolAllocation",
        "Route",
        "load_plan",
    ),
    "perfmodel.symbolic": ("ROOFLINE", "decode_ridge", "op_roofline"),
    "queueing.symbolic": ("clipped_wait", "optimal_limit", "pk_wait"),
    "planner.symbolic": ("break_even", "offers"),
    "perfmodel.profiling": ("list_profiles", "load_profile", "run_suite", "run_validation"),
    "perfmodel.profiling.suite": ("SuitePlan",),
    "perfmodel.profiling.validate": ("ValidationGrid",),
    "hardware_specs.engines": ("engines",),
    "planner.fit.bands": ("bands",),
    "planner.report.schema": (
        "SCHEMA_VERSION",
        "PlanReport",
        "SearchReport",
        "json_schema",
        "validate_report",
    ),
}
OUR_PACKAGES = ("hardware_specs", "perfmodel", "queueing", "planner")


# ---- the snapshot ------------------------------------------------------------------------------
def documented() -> list[str]:
    """Qualified names of the public API, as the packages export them now."""
    names = []
    for mod in FULL:
        names += [f"{mod}.{n}" for n in importlib.import_module(mod).__all__]
    for mod, parts in PARTS.items():
        names += [f"{mod}.{n}" for n in parts]
    return sorted(names)


def resolve(qualified: str):
    """The object a qualified name points at (modules through sys.modules: the attribute
    ``planner.search`` is the function, the module is ``planner.search``)."""
    mod, name = qualified.rsplit(".", 1)
    return getattr(importlib.import_module(mod), name)


def _signature(obj) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    text = text.replace(str(ROOT), "<repo>")  # path defaults: the same wherever it is cloned
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # function defaults print their address


def _members(cls: type) -> list[str]:
    """Public methods and properties defined by our own classes in ``cls``'s MRO (not fields:
    those are in the signature; not those of object, pydantic or the exception bases)."""
    ours = [k for k in cls.__mro__ if k.__module__.split(".")[0] in OUR_PACKAGES]
    fields = set(getattr(cls, "__dataclass_fields__", {})) | set(getattr(cls, "model_fields", {}))
    out = set()
    for klass in ours:
        for name, value in vars(klass).items():
            if name.startswith("_") or name in fields:
                continue
            kinds = staticmethod | classmethod | property | functools.cached_property
            if isinstance(value, kinds) or inspect.isfunction(value):
                out.add(name)
    return sorted(out)


def describe(obj) -> str | dict:
    """A routine's signature; a class's constructor signature and public members; for a
    constant its type (typing constructs by their repr)."""
    if inspect.isclass(obj):
        return {"signature": _signature(obj), "members": _members(obj)}
    if type(obj).__module__ == "typing":
        return repr(obj)
    if callable(obj):
        return _signature(obj)
    return f"<{type(obj).__name__}>"


def current() -> dict[str, str | dict]:
    return {name: describe(resolve(name)) for name in documented()}


def write_snapshot() -> None:
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n", encoding="utf-8")


# ---- (a) the examples run ----------------------------------------------------------------------
def test_docs_api_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples read examples/*.yaml
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=flags, verbose=False)
    assert result.attempted > 100, f"{DOC}: only {result.attempted} examples found"
    assert result.failed == 0, f"{result.failed} example(s) of {DOC} failed (output above)"


# ---- (b) names and signatures ------------------------------------------------------------------
def test_every_public_name_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [q for q in documented() if f"`{q.rsplit('.', 1)[1]}" not in text]
    assert not missing, (
        f"public names without an entry in {DOC.name}: {', '.join(missing)}; document each "
        f"(one line and one example), then run `{UPDATE}`"
    )


def test_public_api_matches_the_snapshot():
    assert SNAPSHOT.exists(), f"no snapshot {SNAPSHOT}; create it with `{UPDATE}`"
    stored = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    problems = []
    for name, was in stored.items():
        try:
            now = describe(resolve(name))
        except (ImportError, AttributeError):
            problems.append(f"{name}: missing (was {was})")
            continue
        if now != was:
            problems.append(f"{name}: changed from {was} to {now}")
    added = sorted(set(documented()) - set(stored))
    problems += [f"{name}: new public name, not in the snapshot" for name in added]
    if problems:
        pytest.fail(
            "the public API changed (docs/api.md):\n  "
            + "\n  ".join(problems)
            + f"\nIf this is deliberate, update docs/api.md and run `{UPDATE}`.",
            pytrace=False,
        )


# ---- (c) results: to_frame and to_dict ---------------------------------------------------------
SPACE = {
    "gpus": ["L4"],
    "tp": [1],
    "pp": [1],
    "quant": ["fp8"],
    "max_num_seqs": [64],
    "token_budget": [2048],
    "modes": ["aggregated"],
}


@pytest.fixture(scope="module")
def built() -> dict:
    """One small real instance per result type, by qualified name."""
    import numpy as np

    import hardware_specs
    import perfmodel as pm
    import queueing as q
    from planner import SLO, evaluate, max_rate_under_slo, plan, search, sweep
    from planner import serving as sv
    from planner.workload import Workload

    llama = pm.get_model("llama-3.1-8b")
    l4 = hardware_specs.get("L4")
    bt = q.linear_batch_time(0.01, 0.05)
    exp1 = q.Exponential(1.0)
    eng = sv.engine_for("llama-3.1-8b", "L4", quant="fp8")
    prep = sv.prepare(eng, Workload.bundled("chat"))
    slo = {"ttft_s": 1.0, "tpot_s": 0.05}
    res = search("llama-3.1-8b", "chat", slo, SPACE, top=2, jobs=1)
    mtq = q.MaxTokenQueue(0.5, q.Geometric(100), 0.01, 0.1)
    return {
        "perfmodel.StepEstimate": pm.estimate_step(llama, l4, [(1, 1024)] * 4),
        "perfmodel.GridEstimate": pm.estimate_grid(llama, l4, batch=[1, 8], context=1024),
        "perfmodel.MemoryFootprint": pm.memory_footprint(llama, l4, pm.Parallelism(), pm.Quant()),
        "perfmodel.ParamCount": llama.param_count(),
        "queueing.SimEstimate": q.batch_means(np.arange(100.0), 10),
        "queueing.SimRun": q.simulate_mg1(0.5, exp1, n=20_000),
        "queueing.ClippingOptimum": mtq.optimal_limit(np.log, 0.1, limits=[100, 200]),
        "queueing.MG1": q.MG1(0.5, exp1),
        "queueing.MG1 (overloaded)": q.MG1(2.0, exp1),
        "queueing.MMc": q.MMc(3, 1, 4),
        "queueing.MDc": q.MDc(3, 1.0, 4),
        "queueing.MGc": q.MGc(3, q.Deterministic(1.0), 4),
        "queueing.DynamicBatching": q.DynamicBatching(20, bt, 16),
        "queueing.FixedBatching": q.FixedBatching(20, bt, 8),
        "queueing.BaileyBulk": q.BaileyBulk(20, q.Deterministic(0.1), 8),
        "queueing.BulkMMK": q.BulkMMK(20, 10, 8),
        "queueing.ContinuousBatching": q.ContinuousBatching(2, bt, 20, 32),
        "queueing.ImpatientMG1": q.ImpatientMG1(1.0, exp1, 2.0),
        "queueing.PriorityMG1": q.PriorityMG1([0.2, 0.3], [exp1, exp1]),
        "queueing.SJF": q.SJF(0.5, exp1),
        "queueing.SRPT": q.SRPT(0.5, exp1),
        "queueing.ProcessorSharing": q.ProcessorSharing(0.5, exp1),
        "planner.Workload": Workload.bundled("chat"),
        "planner.ServingReport": evaluate("llama-3.1-8b", "L4", "chat", rate=1.0),
        "planner.ServingReport (overloaded)": evaluate("llama-3.1-8b", "L4", "chat", rate=50.0),
        "planner.MaxRate": max_rate_under_slo("llama-3.1-8b", "L4", "chat", SLO(**slo)),
        "planner.Allocation": plan(ROOT / "examples" / "chat_table.yaml"),
        "planner.SearchResult": res,
        "planner.SweepResult": sweep(
            ["llama-3.1-8b"], ["chat"], [slo], [SPACE], top=2, workers=1, processes=False
        ),
        "planner.serving.LoadResult": sv.closed_loop(eng, prep, 8),
        "planner.serving.Percentiles": sv.Percentiles.overloaded(),
    }


RESULTS = [
    "perfmodel.StepEstimate",
    "perfmodel.GridEstimate",
    "perfmodel.MemoryFootprint",
    "perfmodel.ParamCount",
    "queueing.SimEstimate",
    "queueing.SimRun",
    "queueing.ClippingOptimum",
    "queueing.MG1",
    "queueing.MG1 (overloaded)",
    "queueing.MMc",
    "queueing.MDc",
    "queueing.MGc",
    "queueing.DynamicBatching",
    "queueing.FixedBatching",
    "queueing.BaileyBulk",
    "queueing.BulkMMK",
    "queueing.ContinuousBatching",
    "queueing.ImpatientMG1",
    "queueing.PriorityMG1",
    "queueing.SJF",
    "queueing.SRPT",
    "queueing.ProcessorSharing",
    "planner.Workload",
    "planner.ServingReport",
    "planner.ServingReport (overloaded)",
    "planner.MaxRate",
    "planner.Allocation",
    "planner.SearchResult",
    "planner.SweepResult",
    "planner.serving.LoadResult",
    "planner.serving.Percentiles",
]


@pytest.mark.parametrize("name", RESULTS)
def test_result_has_to_frame_and_json_safe_to_dict(built, name):
    obj = built[name]
    assert type(obj) is resolve(name.split(" ")[0]), f"{name}: built a {type(obj).__name__}"
    frame = obj.to_frame()
    assert isinstance(frame, pd.DataFrame), f"{name}.to_frame() gave {type(frame).__name__}"
    data = obj.to_dict()
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{name}.to_dict() is not strict JSON: {exc}")


def test_every_result_type_is_documented():
    names = set(documented())
    assert not [r for r in RESULTS if r.split(" ")[0] not in names]


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE}")
    sys.path.insert(0, str(ROOT))
    write_snapshot()
    print(f"wrote {SNAPSHOT.relative_to(ROOT)} ({len(documented())} names)")
