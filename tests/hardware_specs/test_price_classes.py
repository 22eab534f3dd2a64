"""Price classes beside the on-demand price: reserved (committed) and spot quotes.

The schema checks: a quote needs a positive, finite $/GPU-hour, a source and a date, and no
unknown fields; reserved or spot above on-demand is allowed (the planner warns about it).
The data checks compare the shipped numbers with the figures in the cited sources, written out
by hand below (instance price / GPUs per instance), not with anything the code computes.
"""

from __future__ import annotations

import datetime
import math

import pytest
from pydantic import ValidationError

import hardware_specs
from hardware_specs import HardwareSpecError
from hardware_specs.schema import Price, PriceQuote

QUOTE = {"usd_per_hour": 1.0, "source": "test page", "date": "2026-01-01"}
ON_DEMAND = {"usd_per_hour": 2.0, "source": "test page", "date": "2026-01-01"}

# Hours per month used by the cited GCP pricing file (month = hour x 730 for GPU machines).
H_MONTH = 730

#: (accelerator, class) -> $/GPU-hour as read from the cited source
EXPECTED = {
    # Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (generated 2025-03-06), us-central1
    ("A100-SXM4-40GB", "reserved"): 938.56707798 / H_MONTH,  # a2-highgpu-1g month_3y, 1 GPU
    ("A100-SXM4-40GB", "spot"): 1.293355,  # a2-highgpu-1g hour_spot, 1 GPU
    ("A100-SXM4-80GB", "spot"): 2.02746835616438,  # a2-ultragpu-1g hour_spot, 1 GPU
    ("H100-SXM", "reserved"): 28370.99821392 / H_MONTH / 8,  # a3-highgpu-8g month_3y, 8 GPUs
    ("L4", "reserved"): 232.19438719 / H_MONTH,  # g2-standard-4 month_3y, 1 GPU
    ("L4", "spot"): 0.279932,  # g2-standard-4 hour_spot, 1 GPU
    # SkyPilot catalog v7 runpod/vms.csv, SpotPrice column of the 1x ..._SECURE rows
    ("A100-PCIe-80GB", "spot"): 1.19,
    ("H100-SXM", "spot"): 2.69,
    ("H200-SXM", "spot"): 3.59,
    ("RTX-4090", "spot"): 0.34,
    # Google Cloud blog "Trillium TPU is GA" (2024-12-11): 3-year commitment per chip-hour
    ("TPU-v6e", "reserved"): 1.22,
}


def _quotes():
    """(accelerator, class, on-demand $/h, quote) for every shipped reserved/spot quote."""
    out = []
    for name in hardware_specs.names():
        price = hardware_specs.get(name).price
        for cls in ("reserved", "spot"):
            quote = getattr(price, cls)
            if quote is not None:
                out.append((name, cls, price.usd_per_hour, quote))
    return out


# -- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1.0, 0, 0.0, math.inf, "inf", ".inf", -math.inf, math.nan])
def test_quote_refuses_non_positive_or_non_finite_price(bad):
    with pytest.raises(ValidationError):
        PriceQuote.model_validate(QUOTE | {"usd_per_hour": bad})


@pytest.mark.parametrize("cls", ["reserved", "spot"])
@pytest.mark.parametrize("bad", [-2.5, 0, math.inf])
def test_price_refuses_bad_quote_inside(cls, bad):
    with pytest.raises(ValidationError):
        Price.model_validate(ON_DEMAND | {cls: QUOTE | {"usd_per_hour": bad}})


def test_on_demand_price_refuses_infinity():
    with pytest.raises(ValidationError):
        Price.model_validate(ON_DEMAND | {"usd_per_hour": math.inf})


def test_quote_refuses_unknown_fields_and_needs_source_and_date():
    with pytest.raises(ValidationError, match="upfront"):
        PriceQuote.model_validate(QUOTE | {"upfront": "none"})
    with pytest.raises(ValidationError):
        PriceQuote.model_validate(QUOTE | {"source": ""})
    for field in ("source", "date", "usd_per_hour"):
        with pytest.raises(ValidationError):
            PriceQuote.model_validate({k: v for k, v in QUOTE.items() if k != field})


def test_price_refuses_unknown_class():
    with pytest.raises(ValidationError, match="preemptible"):
        Price.model_validate(ON_DEMAND | {"preemptible": QUOTE})


def test_classes_are_optional_and_may_exceed_on_demand():
    price = Price.model_validate(ON_DEMAND)
    assert price.reserved is None and price.spot is None
    dearer = QUOTE | {"usd_per_hour": 3.0}
    price = Price.model_validate(ON_DEMAND | {"reserved": dearer | {"term": "1yr"}, "spot": dearer})
    assert price.reserved.usd_per_hour == 3.0 and price.reserved.term == "1yr"
    assert price.spot.term is None


def test_quote_is_frozen():
    quote = PriceQuote.model_validate(QUOTE)
    with pytest.raises(ValidationError):
        quote.usd_per_hour = 2.0  # type: ignore[misc]


def test_bad_quote_in_yaml_names_file_and_field(write_spec, valid_spec):
    valid_spec["price"]["spot"] = {"usd_per_hour": -1, "source": "x", "date": "2026-01-01"}
    path = write_spec(valid_spec, "bad-spot.yaml")
    with pytest.raises(HardwareSpecError) as info:
        hardware_specs.load_file(path)
    message = str(info.value)
    assert str(path) in message and "price.spot.usd_per_hour" in message


def test_yaml_inf_is_refused(valid_spec, write_spec):
    path = write_spec(valid_spec, "inf.yaml")
    text = path.read_text(encoding="utf-8").replace("usd_per_hour: 2.99", "usd_per_hour: .inf")
    assert ".inf" in text
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HardwareSpecError, match=r"price\.usd_per_hour"):
        hardware_specs.load_file(path)


def test_to_dict_round_trips_price_classes():
    acc = hardware_specs.get("L4")
    data = acc.to_dict()
    assert data["price"]["reserved"]["term"] == "3yr"
    assert hardware_specs.Accelerator.model_validate(data) == acc


# -- shipped data ---------------------------------------------------------------------------


def test_every_shipped_quote_has_source_date_and_reserved_term():
    quotes = _quotes()
    assert quotes
    for name, cls, _, quote in quotes:
        assert quote.source.strip(), (name, cls)
        assert isinstance(quote.date, datetime.date), (name, cls)
        assert datetime.date(2023, 1, 1) <= quote.date <= datetime.date(2026, 12, 31), (name, cls)
        if cls == "reserved":
            assert quote.term in ("1yr", "3yr"), name
            assert quote.term.replace("yr", "-yr") in quote.source, name


def test_several_gpus_carry_each_class():
    quotes = _quotes()
    reserved = {name for name, cls, _, _ in quotes if cls == "reserved"}
    spot = {name for name, cls, _, _ in quotes if cls == "spot"}
    assert len(reserved) >= 4, reserved
    assert len(spot) >= 4, spot


@pytest.mark.parametrize(("name", "cls", "on_demand", "quote"), _quotes())
def test_quote_same_order_of_magnitude_as_on_demand(name, cls, on_demand, quote):
    """0.1x..2x: guards against a per-instance price pasted as per-GPU (8x too high)."""
    ratio = quote.usd_per_hour / on_demand
    assert 0.1 <= ratio <= 2.0, f"{name} {cls}: {quote.usd_per_hour} vs on-demand {on_demand}"


def test_shipped_quotes_match_the_cited_figures():
    shipped = {(name, cls): quote.usd_per_hour for name, cls, _, quote in _quotes()}
    assert set(shipped) == set(EXPECTED)
    for key, figure in EXPECTED.items():
        assert shipped[key] == pytest.approx(figure, rel=5e-4), key


def test_multi_gpu_instance_quotes_say_the_division():
    """A quote derived from an 8-GPU instance says so in its source text."""
    h100 = hardware_specs.get("H100-SXM").price
    assert "/8 GPUs" in h100.reserved.source
