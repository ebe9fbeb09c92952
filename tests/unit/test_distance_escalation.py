"""Distance to liquidation (percent, sigmas, touch probability), the volatility estimator and
the escalation tiers with their hysteresis."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.risk import (
    EscalationThresholds,
    RiskTier,
    VolatilityState,
    annualised_volatility,
    classify,
    distance_pct,
    distance_sigma,
    horizon_sigma,
    touch_probability,
    update_volatility,
)
from bot.risk.distance import SECONDS_PER_YEAR

SETTINGS = settings(max_examples=200, deadline=None)
TH = EscalationThresholds()

# --- distance_pct ---------------------------------------------------------------------------------


def test_distance_pct_is_in_percent_of_mark_with_side_sign() -> None:
    assert distance_pct("long", 100.0, 90.0) == pytest.approx(10.0)
    assert distance_pct("short", 100.0, 110.0) == pytest.approx(10.0)
    assert distance_pct("long", 40_000.0, 38_440.0) == pytest.approx(3.9)  # percent, not 0.039
    # already past: zero or negative
    assert distance_pct("long", 100.0, 105.0) == pytest.approx(-5.0)
    assert distance_pct("short", 100.0, 95.0) == pytest.approx(-5.0)
    assert distance_pct("long", 100.0, 100.0) == 0.0
    # no liquidation possible / liquidatable at any price
    assert distance_pct("long", 100.0, None) is None
    assert distance_pct("long", 100.0, math.inf) == 0.0
    # a long whose liquidation is at 0 is 100 % away
    assert distance_pct("long", 100.0, 0.0) == pytest.approx(100.0)


@SETTINGS
@given(st.floats(1e-3, 1e6), st.floats(0.01, 3.0))
def test_distance_pct_positive_on_the_safe_side(mark: float, ratio: float) -> None:
    lp = mark * ratio
    long, short = distance_pct("long", mark, lp), distance_pct("short", mark, lp)
    assert long is not None and short is not None
    assert long == pytest.approx(-short, rel=1e-12, abs=1e-12)
    assert (long > 0) == (lp < mark)
    assert long == pytest.approx((1.0 - ratio) * 100.0, rel=1e-9, abs=1e-9)


# --- sigmas and touch probability ---------------------------------------------------------------------


def test_horizon_sigma_scales_with_sqrt_time() -> None:
    assert horizon_sigma(0.8, SECONDS_PER_YEAR) == pytest.approx(0.8)
    assert horizon_sigma(0.8, SECONDS_PER_YEAR / 4) == pytest.approx(0.4)
    assert horizon_sigma(0.8, 0.0) == 0.0


def test_distance_sigma_values_and_edges() -> None:
    sigma_h = horizon_sigma(0.8, 3600.0)
    assert distance_sigma("long", 100.0, 90.0, 0.8, 3600.0) == pytest.approx(math.log(100 / 90) / sigma_h)
    assert distance_sigma("short", 100.0, 110.0, 0.8, 3600.0) == pytest.approx(math.log(110 / 100) / sigma_h)
    assert distance_sigma("long", 100.0, None, 0.8, 3600.0) == math.inf
    assert distance_sigma("long", 100.0, 0.0, 0.8, 3600.0) == math.inf
    assert distance_sigma("long", 100.0, math.inf, 0.8, 3600.0) == 0.0
    assert distance_sigma("long", 100.0, 90.0, 0.0, 3600.0) == math.inf  # no volatility: never touched
    assert distance_sigma("long", 100.0, 105.0, 0.8, 3600.0) == 0.0  # past liquidation clamps at 0
    assert distance_sigma("short", 100.0, 95.0, 0.8, 3600.0) == 0.0


def test_touch_probability_edges_and_formula() -> None:
    assert touch_probability(0.0) == 1.0
    assert touch_probability(-1.0) == 1.0  # past the liquidation price: certain
    assert touch_probability(None) == 0.0
    assert touch_probability(math.inf) == 0.0
    # reflection principle: 2 * (1 - Phi(d)) = erfc(d / sqrt 2)
    for d in (0.5, 1.0, 2.0, 3.0):
        assert touch_probability(d) == pytest.approx(2.0 * (1.0 - NormalDist().cdf(d)), rel=1e-9)
        assert touch_probability(d) == math.erfc(d / math.sqrt(2.0))
    assert touch_probability(2.0) == pytest.approx(0.0455, abs=1e-4)


@SETTINGS
@given(st.floats(0.0, 30.0), st.floats(0.0, 30.0))
def test_touch_probability_decreases_with_distance(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert 0.0 <= touch_probability(hi) <= touch_probability(lo) <= 1.0


# --- volatility estimator ---------------------------------------------------------------------------


def feed(prices: list[tuple[float, float]], window_s: float) -> VolatilityState | None:
    state = None
    for t, p in prices:
        state = update_volatility(state, t, p, window_s)
    return state


def gbm_path(vol_annual: float, n: int, seed: int, dt_range: tuple[float, float]) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    t, p = 0.0, 30_000.0
    out = [(t, p)]
    for _ in range(n):
        dt = rng.uniform(*dt_range)
        t += dt
        p *= math.exp(rng.gauss(0.0, vol_annual * math.sqrt(dt / SECONDS_PER_YEAR)))
        out.append((t, p))
    return out


@pytest.mark.parametrize("vol", [0.3, 0.8, 1.5])
@pytest.mark.parametrize("dt_range", [(60.0, 60.0), (5.0, 300.0)], ids=["regular", "irregular"])
def test_constant_volatility_series_is_recovered(vol: float, dt_range: tuple[float, float]) -> None:
    state = feed(gbm_path(vol, 6000, seed=7, dt_range=dt_range), window_s=6 * 3600.0)
    estimate = annualised_volatility(state, min_samples=30, min_span_s=3600.0)
    assert estimate is not None
    assert estimate == pytest.approx(vol, rel=0.1)


def test_volatility_exact_for_constant_absolute_returns() -> None:
    # Every return is +-1 % over 60 s: the variance rate is exactly ln(1.01)^2 / 60.
    prices = [(60.0 * i, 100.0 * (1.01 if i % 2 else 1.0)) for i in range(50)]
    state = feed(prices, window_s=600.0)
    assert state is not None and state.samples == 49 and state.first_t == 0.0
    assert state.variance_rate == pytest.approx(math.log(1.01) ** 2 / 60.0, rel=1e-9)
    assert annualised_volatility(state) == pytest.approx(math.log(1.01) * math.sqrt(SECONDS_PER_YEAR / 60.0))


def test_volatility_gates_and_resets() -> None:
    assert annualised_volatility(None) is None
    first = update_volatility(None, 100.0, 50.0, 600.0)
    assert first == VolatilityState(100.0, 50.0, 0.0, 0, 100.0)
    assert update_volatility(first, 100.0, 51.0, 600.0) is first  # no time passed: ignored
    assert update_volatility(first, 90.0, 51.0, 600.0) is first  # out of order: ignored
    reset = update_volatility(first, 160.0, 0.0, 600.0)  # a bad price starts over
    assert reset.samples == 0 and reset.first_t == 160.0

    prices = [(10.0 * i, 100.0 + (i % 3)) for i in range(31)]  # 30 returns over 300 s
    state = feed(prices, window_s=600.0)
    assert state is not None and state.samples == 30
    assert annualised_volatility(state, min_samples=31) is None
    assert annualised_volatility(state, min_samples=30) is not None
    assert annualised_volatility(state, min_samples=30, min_span_s=301.0) is None  # an hour's horizon
    assert annualised_volatility(state, min_samples=30, min_span_s=300.0) is not None


# --- classify -------------------------------------------------------------------------------------------


def test_escalation_is_immediate_and_thresholds_inclusive() -> None:
    assert classify(20.0, None, None, None, TH) is RiskTier.OK
    assert classify(15.0, None, None, None, TH) is RiskTier.WATCH
    assert classify(6.0, None, None, RiskTier.OK, TH) is RiskTier.DANGER  # OK -> DANGER in one step
    assert classify(2.9, None, None, RiskTier.WATCH, TH) is RiskTier.CRITICAL
    assert classify(-1.0, None, None, None, TH) is RiskTier.CRITICAL  # past liquidation


def test_any_signal_escalates() -> None:
    assert classify(12.0, 2.5, None, None, TH) is RiskTier.DANGER  # sigmas worse than percent
    assert classify(12.0, 10.0, 0.9, None, TH) is RiskTier.CRITICAL  # margin ratio worst
    assert classify(None, None, None, None, TH) is RiskTier.OK


def test_deescalation_needs_the_hysteresis_margin() -> None:
    # DANGER is entered at 6 %; left only above 6 + 1 %.
    assert classify(6.5, None, None, RiskTier.DANGER, TH) is RiskTier.DANGER
    assert classify(7.0, None, None, RiskTier.DANGER, TH) is RiskTier.DANGER
    assert classify(7.01, None, None, RiskTier.DANGER, TH) is RiskTier.WARNING
    # A big recovery drops several tiers at once.
    assert classify(30.0, None, None, RiskTier.CRITICAL, TH) is RiskTier.OK
    # Part-way: out of CRITICAL's band (3 + 1) but still DANGER.
    assert classify(4.5, None, None, RiskTier.CRITICAL, TH) is RiskTier.DANGER
    assert classify(3.5, None, None, RiskTier.CRITICAL, TH) is RiskTier.CRITICAL
    # Every signal must clear: the percent cleared, the sigmas did not (3 + 0.25).
    assert classify(8.0, 3.2, None, RiskTier.DANGER, TH) is RiskTier.DANGER
    assert classify(8.0, 3.3, None, RiskTier.DANGER, TH) is RiskTier.WARNING


_CALMER = {RiskTier.WATCH: RiskTier.OK, RiskTier.WARNING: RiskTier.WATCH, RiskTier.DANGER: RiskTier.WARNING,
           RiskTier.CRITICAL: RiskTier.DANGER}


@st.composite
def oscillations(draw: st.DrawFn) -> tuple[RiskTier, list[float]]:
    tier = draw(st.sampled_from(list(_CALMER)))
    threshold = TH.distance_pct[tier]
    worse = {RiskTier.WATCH: RiskTier.WARNING, RiskTier.WARNING: RiskTier.DANGER, RiskTier.DANGER: RiskTier.CRITICAL}
    floor = TH.distance_pct[worse[tier]] if tier in worse else -math.inf
    lo = max(threshold - TH.hysteresis_pct, floor) + 1e-9
    hi = threshold + TH.hysteresis_pct - 1e-9  # strictly inside the band
    band = st.floats(lo, hi)
    values = draw(st.lists(band, min_size=2, max_size=40))
    return tier, values


@SETTINGS
@given(oscillations())
def test_oscillation_within_the_band_never_flaps(case: tuple[RiskTier, list[float]]) -> None:
    tier, values = case
    threshold = TH.distance_pct[tier]
    previous: RiskTier | None = None
    escalated = False
    for x in values:
        previous = classify(x, None, None, previous, TH)
        escalated = escalated or x <= threshold
        assert previous is (tier if escalated else _CALMER[tier]), (x, previous)


def test_floor_is_the_lowest_tier() -> None:
    assert classify(50.0, None, None, None, TH, floor=RiskTier.WARNING) is RiskTier.WARNING
    assert classify(2.0, None, None, None, TH, floor=RiskTier.WARNING) is RiskTier.CRITICAL
    assert classify(50.0, None, None, RiskTier.CRITICAL, TH, floor=RiskTier.WARNING) is RiskTier.WARNING
    # missing data is never safe
    assert classify(None, None, None, None, TH, floor=RiskTier.WARNING) is RiskTier.WARNING


def test_margin_ratio_fallback_and_its_hysteresis() -> None:
    assert classify(None, None, 0.2, None, TH) is RiskTier.OK
    assert classify(None, None, 0.3, None, TH) is RiskTier.WATCH
    assert classify(None, None, 0.72, None, TH) is RiskTier.DANGER
    assert classify(None, None, 0.86, None, TH) is RiskTier.CRITICAL
    assert classify(None, None, math.inf, None, TH) is RiskTier.CRITICAL  # non-positive balance
    assert classify(None, None, 0.66, RiskTier.DANGER, TH) is RiskTier.DANGER  # within 0.7 - 0.05
    assert classify(None, None, 0.64, RiskTier.DANGER, TH) is RiskTier.WARNING


def test_risk_tier_parse_and_label() -> None:
    assert RiskTier.parse("Danger") is RiskTier.DANGER
    assert RiskTier.parse(" critical ") is RiskTier.CRITICAL
    assert RiskTier.parse(2) is RiskTier.WARNING
    assert RiskTier.parse(RiskTier.OK) is RiskTier.OK
    assert RiskTier.WATCH.label == "watch"
    with pytest.raises(ValueError, match="unknown tier"):
        RiskTier.parse("panic")
