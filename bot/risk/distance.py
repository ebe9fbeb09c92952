"""Distance to liquidation: in percent of mark, in volatility units, and as a touch probability.

Volatility model: the mark follows a driftless geometric Brownian motion over the horizon. Then
the distance in sigmas is ``|ln(liq / mark)| / (sigma_annual * sqrt(horizon_years))`` and the
probability of *touching* the liquidation price within the horizon (reflection principle) is
``2 * (1 - Phi(d)) = erfc(d / sqrt(2))``. Crypto returns have fat tails, so this probability
is a floor, not a forecast: tiers use it as one signal next to the plain percentage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_YEAR = 365.0 * 24 * 3600


def distance_pct(side: str, mark_price: float, liquidation_price: float | None) -> float | None:
    """How far the mark may move against the position before liquidation, in percent of mark
    (e.g. 3.9). None when no liquidation is possible; 0 or negative when already past it."""
    if liquidation_price is None:
        return None
    if math.isinf(liquidation_price):
        return 0.0
    if side == "long":
        return (mark_price - liquidation_price) / mark_price * 100.0
    return (liquidation_price - mark_price) / mark_price * 100.0


def horizon_sigma(volatility_annual: float, horizon_seconds: float) -> float:
    """Standard deviation of the log price over the horizon."""
    return volatility_annual * math.sqrt(horizon_seconds / SECONDS_PER_YEAR)


def distance_sigma(
    side: str, mark_price: float, liquidation_price: float | None, volatility_annual: float, horizon_seconds: float
) -> float | None:
    """Distance to liquidation in units of the horizon's log-price sigma (inf if none possible)."""
    if liquidation_price is None:
        return math.inf
    if liquidation_price <= 0.0:
        return math.inf
    if math.isinf(liquidation_price):
        return 0.0
    sigma = horizon_sigma(volatility_annual, horizon_seconds)
    if sigma <= 0.0:
        return math.inf
    log_gap = math.log(mark_price / liquidation_price)
    gap = log_gap if side == "long" else -log_gap
    return max(gap, 0.0) / sigma


def touch_probability(sigmas: float | None) -> float:
    """P(the mark touches the liquidation price within the horizon) for a distance in sigmas."""
    if sigmas is None or math.isinf(sigmas):
        return 0.0
    return math.erfc(max(sigmas, 0.0) / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class VolatilityState:
    """Running estimate of the variance of log returns per second (exponentially weighted over
    ``window_s``), updated in O(1) per observation so irregular polling does not bias it."""

    t: float
    price: float
    variance_rate: float = 0.0
    samples: int = 0
    first_t: float | None = None


def update_volatility(state: VolatilityState | None, t: float, price: float, window_s: float) -> VolatilityState:
    if state is None or price <= 0.0 or state.price <= 0.0:
        return VolatilityState(t, price, first_t=t)
    dt = t - state.t
    if dt <= 0.0:
        return state
    r = math.log(price / state.price)
    alpha = 1.0 - math.exp(-dt / window_s)
    rate = r * r / dt
    variance = rate if state.samples == 0 else (1.0 - alpha) * state.variance_rate + alpha * rate
    return VolatilityState(t, price, variance, state.samples + 1, state.first_t)


def annualised_volatility(
    state: VolatilityState | None, *, min_samples: int = 30, min_span_s: float = 0.0
) -> float | None:
    """Annualised volatility, or None until there are ``min_samples`` returns spanning at
    least ``min_span_s`` seconds (an estimate for a one-hour horizon needs an hour of data)."""
    if state is None or state.samples < min_samples:
        return None
    if state.first_t is None or state.t - state.first_t < min_span_s:
        return None
    return math.sqrt(state.variance_rate * SECONDS_PER_YEAR)
