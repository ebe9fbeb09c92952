"""Vectorised kernels for assessing many positions at once (numpy).

The scalar functions in ``liquidation``, ``distance`` and ``escalation`` are the reference;
these compute the same numbers for arrays, and tests assert they agree. Used by
``bot.assess`` when an account holds many positions (a cycle over thousands of positions
stays within milliseconds instead of tens of them).

Liquidation over a whole tier table at once: in every tier k the root of the linear
equation (see ``liquidation``) is computed for every position; the tier whose notional range
holds its own root is the answer. For a consistent table exactly one tier does. Rows where
none or several do (an inconsistent table: the answer is a boundary) are reported back so the
caller falls back to the scalar solver for them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from bot.risk.escalation import EscalationThresholds, RiskTier
from bot.risk.tiers import TierTable

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741
SQRT2 = float(np.sqrt(2.0))


def liquidation_prices(
    sign: F, q: F, entry: F, wallet: F, table: TierTable, *, inverse: bool = False
) -> tuple[F, npt.NDArray[np.bool_]]:
    """(prices, resolved) for positions sharing one tier table. ``sign`` is +1 long / -1 short,
    ``q`` contracts*contract_size. Price NaN = no liquidation possible, +inf = liquidatable at
    any price (inverse long), 0 = likewise (linear short). ``resolved`` False: use the scalar."""
    mins = np.asarray(table.mins, dtype=np.float64)
    rates = np.asarray(table.rates, dtype=np.float64)
    amounts = np.asarray(table.amounts, dtype=np.float64)
    lo = mins.copy()
    lo[0] = -np.inf
    hi = np.append(mins[1:], np.inf)
    if inverse:
        a = wallet + sign * q / entry
        b = sign
    else:
        a = wallet - sign * q * entry
        b = -sign
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = (a[:, None] + amounts[None, :]) / (rates[None, :] + b[:, None])
    valid = (roots >= lo[None, :]) & (roots < hi[None, :])
    resolved = valid.sum(axis=1) == 1
    n = np.where(valid, roots, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = q / n if inverse else n / q
    nonpos = n <= 0.0
    # b == -1 (linear long, inverse short): no liquidation; b == +1: liquidatable at any price.
    none_possible = nonpos & (b < 0)
    always = nonpos & (b > 0)
    price = np.where(none_possible, np.nan, price)
    price = np.where(always, np.inf if inverse else 0.0, price)
    return price, resolved


def distances(sign: F, mark: F, liq: F) -> F:
    """Percent of mark; NaN where no liquidation is possible; 0 where liquidatable anywhere."""
    d = sign * (mark - liq) / mark * 100.0
    return np.where(np.isinf(liq), 0.0, d)


def sigmas(sign: F, mark: F, liq: F, vol_annual: F, horizon_s: float) -> F:
    """Distance in horizon sigmas: inf where no liquidation or a non-positive price."""
    sigma = vol_annual * np.sqrt(horizon_s / (365.0 * 86400.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = sign * np.log(mark / liq)
        out = np.maximum(gap, 0.0) / sigma
    out = np.where(np.isnan(liq) | (liq <= 0.0) | (sigma <= 0.0), np.inf, out)
    return np.where(np.isinf(liq), 0.0, out)


_erfc = np.frompyfunc(math.erfc, 1, 1)


def touch_probabilities(sig: F) -> F:
    """Vector ``distance.touch_probability``."""
    finite = np.where(np.isinf(sig), 0.0, np.maximum(sig, 0.0))
    p = np.asarray(_erfc(finite / SQRT2), dtype=np.float64)
    return np.where(np.isinf(sig), 0.0, p)


def _raw_tiers(dist: F, sig: F, ratio: F, th: EscalationThresholds, slack: float) -> I:
    tier = np.zeros(dist.shape, dtype=np.int64)
    for t in (RiskTier.WATCH, RiskTier.WARNING, RiskTier.DANGER, RiskTier.CRITICAL):
        hit = np.zeros(dist.shape, dtype=bool)
        limit = th.distance_pct.get(t)
        if limit is not None:
            hit |= ~np.isnan(dist) & (dist <= limit + slack * th.hysteresis_pct)
        limit = th.sigma.get(t)
        if limit is not None:
            hit |= ~np.isnan(sig) & (sig <= limit + slack * th.hysteresis_sigma)
        limit = th.margin_ratio.get(t)
        if limit is not None:
            hit |= ~np.isnan(ratio) & (ratio >= limit - slack * th.hysteresis_margin_ratio)
        tier = np.where(hit, int(t), tier)
    return tier


def classify(dist: F, sig: F, ratio: F, previous: I, th: EscalationThresholds, floor: I) -> I:
    """Vector ``escalation.classify``. NaN means "signal absent"; previous < 0 means none."""
    raw = np.maximum(_raw_tiers(dist, sig, ratio, th, 0.0), floor)
    sticky = np.maximum(_raw_tiers(dist, sig, ratio, th, 1.0), floor)
    held = np.maximum(raw, np.minimum(previous, sticky))
    return np.where((previous < 0) | (raw >= previous), raw, held)
