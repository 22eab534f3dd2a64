"""Service laws: moments, cdf, quantile, transform and sampling against scipy/numpy/quad."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from queueing import (
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    Geometric,
    LogNormal,
    Mixture,
    QueueingInputError,
)

LAWS_WITH_SCIPY = [
    (Exponential(2.0), stats.expon(scale=2.0)),
    (Gamma(0.5, 3.0), stats.gamma(0.5, scale=6.0)),
    (Gamma(4.0, 1.0), stats.gamma(4.0, scale=0.25)),
    (LogNormal(0.1, 0.8), stats.lognorm(0.8, scale=math.exp(0.1))),
]


@pytest.mark.parametrize(("law", "ref"), LAWS_WITH_SCIPY)
def test_first_three_moments_match_scipy(law, ref):
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(ref.moment(k), rel=1e-10)


@pytest.mark.parametrize(("law", "ref"), LAWS_WITH_SCIPY)
def test_cdf_and_quantile_match_scipy(law, ref):
    t = np.array([0.01, 0.5, 1.0, 4.0])
    p = np.array([0.01, 0.5, 0.99])
    np.testing.assert_allclose(law.cdf(t), ref.cdf(t), rtol=1e-12)
    np.testing.assert_allclose(law.quantile(p), ref.ppf(p), rtol=1e-10)


@pytest.mark.parametrize(("law", "ref"), LAWS_WITH_SCIPY)
def test_laplace_transform_matches_quadrature(law, ref):
    for s in (0.3, 2.0, 1.0 + 3.0j):
        re = integrate.quad(lambda x, s=s: (np.exp(-s * x) * ref.pdf(x)).real, 0, np.inf)[0]
        im = integrate.quad(lambda x, s=s: (np.exp(-s * x) * ref.pdf(x)).imag, 0, np.inf)[0]
        assert complex(law.lst(s)) == pytest.approx(complex(re, im), abs=1e-8)


@pytest.mark.parametrize(
    "law",
    [Exponential(1.0), Gamma(0.5, 2.0), LogNormal.from_mean_cv(1.0, 1.0), Geometric(5.0)],
)
def test_sample_mean_and_second_moment_agree_with_moments(law):
    x = law.sample(400_000, np.random.default_rng(7))
    for k in (1, 2):
        se = np.std(x**k) / math.sqrt(x.size)
        assert abs(np.mean(x**k) - law.moment(k)) < 4 * se


def test_lognormal_from_mean_cv_has_that_mean_and_cv():
    law = LogNormal.from_mean_cv(2.0, 1.5)
    assert law.mean == pytest.approx(2.0, rel=1e-12)
    assert math.sqrt(law.scv) == pytest.approx(1.5, rel=1e-12)


def test_deterministic_is_a_point_mass():
    law = Deterministic(0.25)
    assert [law.moment(k) for k in (1, 2, 3)] == pytest.approx([0.25, 0.0625, 0.015625])
    assert law.cdf(0.2499) == 0.0 and law.cdf(0.25) == 1.0
    assert complex(law.lst(2.0)) == pytest.approx(math.exp(-0.5))


def test_empirical_moments_and_quantiles_are_those_of_the_data():
    data = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    law = Empirical(data)
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(np.mean(data**k))
    assert law.cdf(4.0) == pytest.approx(np.mean(data <= 4.0))
    assert law.quantile(0.5) == np.quantile(data, 0.5, method="inverted_cdf")
    assert complex(law.lst(0.1)) == pytest.approx(np.mean(np.exp(-0.1 * data)))


def test_clip_moves_the_mass_above_the_limit_onto_it():
    data = np.array([10.0, 20.0, 30.0, 400.0, 1000.0])
    law = Empirical(data).clip(100.0)
    clipped = np.minimum(data, 100.0)
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(np.mean(clipped**k))
    assert law.cdf(99.9) == pytest.approx(0.6) and law.cdf(100.0) == 1.0
    assert law.quantile(0.99) == 100.0


def test_clip_of_a_continuous_law_matches_direct_integration():
    base = stats.lognorm(1.0, scale=1.0)
    law = LogNormal(0.0, 1.0).clip(2.0)
    for k in (1, 2, 3):
        body = integrate.quad(lambda x, k=k: x**k * base.pdf(x), 0, 2.0)[0]
        assert law.moment(k) == pytest.approx(body + 2.0**k * base.sf(2.0), rel=1e-10)
    direct = integrate.quad(lambda x: np.exp(-0.7 * x) * base.pdf(x), 0, 2.0)[0]
    expected = direct + math.exp(-1.4) * base.sf(2.0)
    assert complex(law.lst(0.7)).real == pytest.approx(expected, rel=1e-9)


def test_affine_map_scales_and_shifts_moments_and_quantiles():
    law = Gamma(2.0, 3.0).affine(0.5, 0.1)
    x = stats.gamma(2.0, scale=1.5)
    for k in (1, 2, 3):
        ref = integrate.quad(lambda v, k=k: (0.5 * v + 0.1) ** k * x.pdf(v), 0, np.inf)[0]
        assert law.moment(k) == pytest.approx(ref, rel=1e-9)
    assert law.quantile(0.9) == pytest.approx(0.5 * x.ppf(0.9) + 0.1)
    assert complex(law.lst(1.0)) == pytest.approx(math.exp(-0.1) * (1 + 0.75) ** -2.0)


def test_mixture_moments_cdf_and_quantile_are_weighted():
    law = Mixture([Exponential(1.0), Deterministic(3.0)], [0.25, 0.75])
    assert law.moment(2) == pytest.approx(0.25 * 2.0 + 0.75 * 9.0)
    assert law.cdf(1.0) == pytest.approx(0.25 * (1 - math.exp(-1.0)))
    q = law.quantile(0.2)
    assert 0.25 * (1 - math.exp(-q)) == pytest.approx(0.2, rel=1e-9)


def test_max_of_n_has_cdf_f_to_the_n_and_matching_moments():
    base = Gamma(2.0, 1.0)
    law = base.max_of(4)
    ref = stats.gamma(2.0, scale=0.5)
    pdf = lambda x: 4 * ref.cdf(x) ** 3 * ref.pdf(x)  # noqa: E731
    for k in (1, 2):
        assert law.moment(k) == pytest.approx(
            integrate.quad(lambda x, k=k: x**k * pdf(x), 0, 60)[0]
        )
    assert law.cdf(1.0) == pytest.approx(ref.cdf(1.0) ** 4)
    tokens = Empirical([1, 2, 2, 5])
    brute = np.array([max(a, b) for a in [1, 2, 2, 5] for b in [1, 2, 2, 5]])
    assert tokens.max_of(2).moment(1) == pytest.approx(brute.mean())


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: Exponential(-1.0), "mean"),
        (lambda: Gamma(0.0, 1.0), "shape"),
        (lambda: Empirical([]), "samples"),
        (lambda: Empirical([1.0, float("nan")]), "samples"),
        (lambda: Empirical([1.0, -2.0]), "samples"),
        (lambda: Deterministic(float("inf")), "value"),
        (lambda: Mixture([Exponential(1.0)], [0.5, 0.5]), "weights"),
        (lambda: Exponential(1.0).clip(-3), "limit"),
        (lambda: Exponential(1.0).quantile(1.5), "p"),
    ],
)
def test_bad_law_arguments_raise_one_clear_error_naming_the_argument(build, argument):
    with pytest.raises(QueueingInputError, match=argument):
        build()


finite_samples = st.lists(
    st.floats(min_value=0.0, max_value=1e4, allow_nan=False), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(data=finite_samples, limit=st.floats(min_value=0.5, max_value=2e4), a=st.floats(0.01, 5))
def test_clipped_affine_empirical_moments_equal_numpy_on_the_transformed_data(data, limit, a):
    law = Empirical(data).clip(limit).affine(a, 0.3)
    direct = a * np.minimum(np.asarray(data), limit) + 0.3
    for k in (1, 2, 3):
        assert law.moment(k) == pytest.approx(np.mean(direct**k), rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(shape=st.floats(0.2, 20.0), mean=st.floats(0.01, 100.0), p=st.floats(0.001, 0.999))
def test_gamma_quantile_inverts_cdf(shape, mean, p):
    law = Gamma(shape, mean)
    assert law.cdf(law.quantile(p)) == pytest.approx(p, rel=1e-9)
