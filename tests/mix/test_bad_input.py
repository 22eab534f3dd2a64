"""Bad input gets one clear error (file, field, what is accepted) or, for an infeasible plan,
an explanation with the change that would make it feasible."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mix_fixtures import TABLE, plan_dict

from planner.mix import PlanSpecError, load_plan, plan


def write_plan(tmp_path: Path, **over) -> Path:
    """A two-bucket plan on A10G + H100 with a measured table; ``over`` replaces fields."""
    (tmp_path / "caps.csv").write_text(TABLE)
    data = plan_dict(**over)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_gpu_name_lists_the_closest(tmp_path):
    path = write_plan(tmp_path, gpus=[{"name": "H100-SMX"}])
    with pytest.raises(PlanSpecError) as err:
        load_plan(path)
    msg = str(err.value)
    assert str(path) in msg and "gpus[0]" in msg
    assert "unknown accelerator 'H100-SMX'; closest:" in msg and "H100-SXM" in msg


@pytest.mark.parametrize("rate", [0, -5])
def test_zero_or_negative_rate_is_rejected(tmp_path, rate):
    path = write_plan(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["models"][0]["rate_rps"] = rate
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanSpecError, match=r"models\[0\]\.rate_rps.*greater than 0"):
        load_plan(path)


def test_histogram_not_summing_to_one_says_so_and_normalize_fixes_it(tmp_path):
    path = write_plan(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["models"][0]["traffic"]["histogram"][0]["prob"] = 0.7
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanSpecError, match=r"models\[0\]\.traffic.*sum to 0\.9, not 1.*normalize"):
        load_plan(path)
    data["models"][0]["traffic"]["normalize"] = True
    path.write_text(yaml.safe_dump(data))
    alloc = plan(path)
    rates = alloc.routing.groupby("bucket").rate_rps.first()
    assert rates["in512/out128"] == pytest.approx(10 * 0.7 / 0.9)


def test_unknown_field_lists_the_accepted_ones(tmp_path):
    path = write_plan(tmp_path, gpus=[{"name": "A10G", "max_gpu": 4}])
    with pytest.raises(
        PlanSpecError, match=r"gpus\[0\]\.max_gpu.*unknown field; accepted:.*max_gpus"
    ):
        load_plan(path)


def test_capacity_table_zero_marks_the_pool_ineligible_for_that_bucket(tmp_path):
    alloc = plan(write_plan(tmp_path))
    assert alloc.feasible
    long = alloc.routing[alloc.routing.bucket == "in4096/out256"]
    assert list(long.pool) == ["H100-SXM"]
    ex = alloc.exclusions_frame()
    assert ex.to_dict("records") == [
        {
            "model": "m",
            "bucket": "in4096/out256",
            "pool": "A10G",
            "reason": "capacity table gives 0 req/s (ineligible)",
        }
    ]


def test_negative_table_rate_is_an_error_naming_row_and_column(tmp_path):
    path = write_plan(tmp_path)
    (tmp_path / "caps.csv").write_text(TABLE.replace("H100,4096,256,4.0", "H100,4096,256,-1"))
    with pytest.raises(PlanSpecError, match=r"caps\.csv: row 5, column 'max_rate_rps'.*>= 0"):
        plan(path)


def test_table_missing_columns_names_them(tmp_path):
    path = write_plan(tmp_path)
    (tmp_path / "caps.csv").write_text("gpu,input_tokens,max_rate_rps\nA10G,1,1\n")
    with pytest.raises(PlanSpecError, match=r"lacks column.*output_tokens"):
        plan(path)


def test_caps_that_make_the_plan_infeasible_are_explained_with_the_cap_needed(tmp_path):
    # Needs 10*0.8/20 + 10*0.2/4 = 0.9 H100 for the long bucket alone if H100 serves all;
    # with H100 capped at 0 the long bucket (A10G: capacity 0) cannot be served at all.
    alloc = plan(
        write_plan(
            tmp_path, gpus=[{"name": "A10G", "max_gpus": 2}, {"name": "H100", "max_gpus": 0}]
        )
    )
    assert not alloc.feasible
    (issue,) = alloc.issues
    assert issue.kind == "caps"
    assert "raise max_gpus of H100-SXM from 0 to 1" in issue.suggestion
    assert "at most" in issue.message  # share of traffic the caps carry


def test_rate_beyond_caps_reports_the_share_that_fits(tmp_path):
    path = write_plan(
        tmp_path, gpus=[{"name": "A10G", "max_gpus": 2}, {"name": "H100", "max_gpus": 1}]
    )
    assert plan(path).feasible  # 10 req/s fit
    data = yaml.safe_load(path.read_text())
    data["models"][0]["rate_rps"] = 100
    path.write_text(yaml.safe_dump(data))
    alloc = plan(path)
    assert not alloc.feasible
    (issue,) = alloc.issues
    # Hand calculation of the largest share t of 100 req/s: the long bucket (20t req/s) runs
    # on H100 only (5t replicas); the short one (80t) fills both A10G (4 req/s) and the rest
    # of the H100 at 20 req/s: 5t + (80t - 4)/20 <= 1, i.e. t <= 1.2/9 = 13.3%.
    assert "at most 13.3% of the planned traffic" in issue.message
    assert "raise max_gpus" in issue.suggestion


def test_bucket_without_any_pool_names_it_and_the_slo_that_would_serve_it(tmp_path):
    table = (
        "gpu,input_tokens,output_tokens,tpot_s,max_rate_rps\n"
        "H100,512,128,0.05,20\nH100,4096,256,0.05,0\nH100,4096,256,0.2,3\n"
    )
    path = write_plan(tmp_path, gpus=[{"name": "H100"}], slo={"tpot_s": 0.05})
    (tmp_path / "caps.csv").write_text(table)
    alloc = plan(path)
    assert not alloc.feasible
    (issue,) = alloc.issues
    assert issue.kind == "bucket" and issue.bucket == "in4096/out256"
    assert "H100-SXM: capacity table gives 0 req/s" in issue.message
    assert "loosened x4" in issue.suggestion and "TPOT <= 0.2 s" in issue.suggestion


def test_too_few_gpu_types_is_explained(tmp_path):
    # A10G serves only the short bucket, H100 only the long one: one type cannot do.
    table = "gpu,input_tokens,output_tokens,max_rate_rps\nA10G,512,128,2\nH100,512,128,0\n"
    table += "H100,4096,256,4\n"
    path = write_plan(tmp_path, max_gpu_types=1)
    (tmp_path / "caps.csv").write_text(table)
    alloc = plan(path)
    assert not alloc.feasible
    (issue,) = alloc.issues
    assert issue.kind == "types" and issue.suggestion == "set max_gpu_types: 2"


def test_spot_pricing_without_a_spot_price_is_an_error(tmp_path):
    with pytest.raises(PlanSpecError, match="pricing spot needs spot_usd_per_hour"):
        load_plan(write_plan(tmp_path, pricing="spot"))


def test_two_traffic_forms_are_rejected(tmp_path):
    path = write_plan(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["models"][0]["traffic"]["grid"] = {"probs": [[1.0]]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanSpecError, match="exactly one of histogram, grid, trace, laws"):
        load_plan(path)
