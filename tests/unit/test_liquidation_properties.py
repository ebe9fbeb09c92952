"""Property tests of ``bot.risk.liquidation`` on random tier tables and positions.

The reference here is the liquidation condition itself, evaluated directly:

    g(P) = wallet + other_unrealized_pnl - other_maintenance + pnl(P) - maintenance(notional(P))

with the tier chosen at the notional at P; and an independent bisection solver on g.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.risk import (
    Leg,
    Tier,
    TierTable,
    liquidation_price,
    liquidation_prices_legs,
)

SETTINGS = settings(max_examples=200, deadline=None)


def log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    return st.floats(lo_exp, hi_exp, allow_nan=False, allow_infinity=False).map(lambda x: 10.0**x)


@st.composite
def tier_tables(draw: st.DrawFn, scale: float, consistent: bool = True) -> TierTable:
    """1-6 tiers with boundaries spread around ``scale`` (the position's notional), rates
    increasing; amounts by the continuity recursion, or random when not ``consistent``."""
    n = draw(st.integers(1, 6))
    mins = [0.0]
    if n > 1:
        mins.append(scale * draw(log_uniform(-3.0, 0.5)))
        for _ in range(n - 2):
            mins.append(mins[-1] * (1.0 + draw(st.floats(0.01, 5.0))))
    rates = [draw(st.floats(0.0, 0.05))]
    for _ in range(n - 1):
        rates.append(min(rates[-1] + draw(st.floats(0.0005, 0.15)), 0.95))
    assume(all(b > a for a, b in itertools.pairwise(rates)))
    if consistent:
        amounts = [0.0]
        for k in range(1, n):
            amounts.append(amounts[-1] + mins[k] * (rates[k] - rates[k - 1]))
    else:
        amounts = [draw(st.floats(-0.05, 0.2)) * scale for _ in range(n)]
    maxs = [*mins[1:], math.inf]
    return TierTable(Tier(lo, hi, r, a) for lo, hi, r, a in zip(mins, maxs, rates, amounts, strict=True))


@dataclass(frozen=True)
class Case:
    side: str
    inverse: bool
    contracts: float
    contract_size: float
    entry: float
    wallet: float
    other_mm: float
    other_upnl: float
    table: TierTable

    @property
    def s(self) -> int:
        return 1 if self.side == "long" else -1

    @property
    def q(self) -> float:
        return self.contracts * self.contract_size

    @property
    def k(self) -> float:
        return self.wallet + self.other_upnl - self.other_mm

    def lp(self, wallet: float | None = None) -> float | None:
        return liquidation_price(
            self.side, self.contracts, self.entry, self.wallet if wallet is None else wallet, self.table,
            contract_size=self.contract_size, inverse=self.inverse,
            other_maintenance=self.other_mm, other_unrealized_pnl=self.other_upnl,
        )


def notional_at(c: Case, price: float) -> float:
    return c.q / price if c.inverse else c.q * price


def g(c: Case, price: float, wallet: float | None = None) -> float:
    """Margin balance minus maintenance margin at ``price`` (tier at the notional there)."""
    k = c.k if wallet is None else wallet + c.other_upnl - c.other_mm
    pnl = c.s * c.q * (1.0 / c.entry - 1.0 / price) if c.inverse else c.s * c.q * (price - c.entry)
    return k + pnl - c.table.maintenance_margin(notional_at(c, price))


def g_scale(c: Case, price: float) -> float:
    """Magnitude of the terms summed in g: the yardstick for a relative tolerance."""
    n = notional_at(c, price)
    entry_notional = c.q / c.entry if c.inverse else c.q * c.entry
    k = c.table.index_at(n)
    return abs(c.wallet) + abs(c.other_mm) + abs(c.other_upnl) + entry_notional + n + abs(c.table.amounts[k])


def g_limit_small_notional(c: Case) -> float:
    """g as the notional tends to 0 (price -> 0 linear, price -> inf inverse)."""
    entry_notional = c.q / c.entry if c.inverse else c.q * c.entry
    return c.k - c.s * entry_notional * (-1 if c.inverse else 1) + c.table.amounts[0]


@st.composite
def cases(draw: st.DrawFn, consistent: bool = True, cross: bool | None = None) -> Case:
    side = draw(st.sampled_from(["long", "short"]))
    inverse = draw(st.booleans())
    contract_size = draw(st.sampled_from([1.0, 0.001, 0.01, 10.0, 100.0]))
    contracts = draw(log_uniform(-2.0, 4.0))
    entry = draw(log_uniform(-3.0, 5.0))
    q = contracts * contract_size
    entry_notional = q / entry if inverse else q * entry
    # Mostly leveraged positions; some nearly unleveraged ones, where a long (inverse short) has
    # no liquidation price at all.
    leverage = draw(st.one_of(st.floats(1.0, 125.0), st.floats(0.5, 1.5)))
    wallet = entry_notional / leverage * draw(st.floats(0.5, 1.5))
    is_cross = draw(st.booleans()) if cross is None else cross
    other_mm = draw(st.floats(0.0, 0.3)) * entry_notional if is_cross else 0.0
    # Other positions' PnL, sometimes deep enough under water to sink this one at any price.
    other_upnl = draw(st.one_of(st.floats(-0.5, 0.5), st.floats(-3.0, -1.0))) * entry_notional if is_cross else 0.0
    table = draw(tier_tables(entry_notional, consistent))
    return Case(side, inverse, contracts, contract_size, entry, wallet, other_mm, other_upnl, table)


# --- (a) the returned price satisfies the liquidation condition ---------------------------------------


@SETTINGS
@given(cases())
def test_margin_balance_equals_maintenance_at_liquidation(c: Case) -> None:
    lp = c.lp()
    if lp is None or lp == 0.0 or math.isinf(lp):
        return  # covered by test_none_exactly_when_no_liquidation_is_possible
    assert lp > 0.0
    assert abs(g(c, lp)) <= 1e-9 * g_scale(c, lp)


# --- (b) more wallet never brings the liquidation price closer --------------------------------------


def closeness(side: str, lp: float | None) -> float:
    """A number that grows as the liquidation price gets closer for this side."""
    if lp is None:
        return -math.inf
    return lp if side == "long" else -lp


@SETTINGS
@given(cases(), st.floats(0.0, 2.0))
def test_more_wallet_never_brings_liquidation_closer(c: Case, extra_fraction: float) -> None:
    more = c.wallet + extra_fraction * abs(c.wallet) + 1e-9
    before, after = c.lp(), c.lp(more)
    a, b = closeness(c.side, before), closeness(c.side, after)
    assert b <= a + 1e-12 * abs(a) if math.isfinite(a) else b <= a


# --- (c) None exactly when no liquidation is possible -----------------------------------------------


@SETTINGS
@given(cases())
def test_none_exactly_when_no_liquidation_is_possible(c: Case) -> None:
    lp = c.lp()
    limit = g_limit_small_notional(c)  # g where the position has lost all it can lose
    tol = 1e-12 * g_scale(c, c.entry)
    assume(abs(limit) > tol)
    can_be_none = (c.side == "long") != c.inverse  # linear long or inverse short
    if can_be_none:
        assert (lp is None) == (limit > 0.0)
        if lp is not None:
            assert 0.0 < lp < math.inf
    else:
        assert lp is not None
        if c.inverse:  # inverse long: inf when liquidatable at any price
            assert math.isinf(lp) == (limit <= 0.0)
        else:  # linear short: 0.0 when liquidatable at any price
            assert (lp == 0.0) == (limit <= 0.0)


# --- (d) the legs solver ------------------------------------------------------------------------------


@SETTINGS
@given(cases(), st.floats(0.5, 2.0))
def test_one_leg_equals_liquidation_price(c: Case, mark_factor: float) -> None:
    mark = c.entry * mark_factor
    below, above = liquidation_prices_legs(
        [Leg(c.side, c.contracts, c.entry, c.table, c.contract_size)], c.wallet, mark, inverse=c.inverse,
        other_maintenance=c.other_mm, other_unrealized_pnl=c.other_upnl,
    )
    at_mark = g(c, mark)
    assume(abs(at_mark) > 1e-9 * g_scale(c, mark))
    # Exact ties (the wallet exactly covers the whole loss) are test_legs_exact_full_cover's.
    assume(abs(g_limit_small_notional(c)) > 1e-12 * g_scale(c, c.entry))
    if at_mark < 0.0:
        assert below == above == mark
        return
    lp = c.lp()
    near, far = (below, above) if c.side == "long" else (above, below)
    assert far is None  # the position only gains that way
    if lp is None:
        assert near is None
    else:
        assert near is not None
        assert math.isclose(near, lp, rel_tol=1e-9, abs_tol=1e-300)


@dataclass(frozen=True)
class Pair:
    long: Case
    short: Case  # same symbol, same table, same mark, one pool (its wallet is ignored)
    mark: float

    @property
    def legs(self) -> list[Leg]:
        return [Leg(x.side, x.contracts, x.entry, x.table, x.contract_size) for x in (self.long, self.short)]

    def f(self, price: float) -> float:
        total = self.long.k
        for x in (self.long, self.short):
            pnl = x.s * x.q * (1.0 / x.entry - 1.0 / price) if x.inverse else x.s * x.q * (price - x.entry)
            total += pnl - x.table.maintenance_margin(notional_at(x, price))
        return total

    def scale(self, price: float) -> float:
        return g_scale(self.long, price) + g_scale(self.short, price)

    def breaks(self) -> list[float]:
        out = []
        for x in (self.long, self.short):
            for mn in x.table.mins[1:]:
                out.append(x.q / mn if x.inverse else mn / x.q)
        return out


@st.composite
def pairs(draw: st.DrawFn) -> Pair:
    base = draw(cases(cross=True))
    # Often a near-complete hedge (net exposure close to zero).
    short_contracts = base.contracts * draw(st.one_of(st.floats(0.05, 1.5), st.floats(0.95, 1.05)))
    short_entry = base.entry * draw(st.floats(0.7, 1.3))
    short = Case("short", base.inverse, short_contracts, base.contract_size, short_entry, 0.0, 0.0, 0.0, base.table)
    # One pool backs both legs: size it on their combined notional.
    gross = sum(x.q / x.entry if x.inverse else x.q * x.entry for x in (base, short))
    wallet = gross / draw(st.floats(1.0, 30.0))
    other_upnl = draw(st.floats(-0.1, 0.3)) * gross
    long = Case("long", base.inverse, base.contracts, base.contract_size, base.entry, wallet, base.other_mm,
                other_upnl, base.table)
    return Pair(long, short, long.entry * draw(st.floats(0.8, 1.25)))


@SETTINGS
@given(pairs())
def test_two_legs_roots_and_nearest(p: Pair) -> None:
    below, above = liquidation_prices_legs(
        p.legs, p.long.wallet, p.mark, inverse=p.long.inverse,
        other_maintenance=p.long.other_mm, other_unrealized_pnl=p.long.other_upnl,
    )
    at_mark = p.f(p.mark)
    assume(abs(at_mark) > 1e-9 * p.scale(p.mark))
    if at_mark < 0.0:
        assert below == above == p.mark
        return
    for price in (below, above):
        if price is not None and 0.0 < price < math.inf:
            assert abs(p.f(price)) <= 1e-9 * p.scale(price), price
    assert below is None or below < p.mark
    assert above is None or above > p.mark
    # Nearest: the account is healthy everywhere between the two (f is piecewise linear, so
    # checking every tier break in between, and the mark, is enough).
    lo = below if below is not None else 0.0
    hi = above if above is not None else math.inf
    for b in p.breaks():
        if lo < b < hi:
            assert p.f(b) >= -1e-9 * p.scale(b), b


# --- (e) agreement with an independent bisection solver ---------------------------------------------


def bisect_liquidation(c: Case) -> float | None:
    """Brute force: g is monotonic in P for a consistent table (increasing for longs, decreasing
    for shorts); bracket the sign change and bisect to the last bit."""
    healthy_above = c.side == "long"
    limit = g_limit_small_notional(c)
    if not c.inverse and c.side == "long" and limit >= 0.0:
        return None
    if c.inverse and c.side == "short" and limit >= 0.0:
        return None
    if not c.inverse and c.side == "short" and limit <= 0.0:
        return 0.0
    if c.inverse and c.side == "long" and limit <= 0.0:
        return math.inf

    def bad(price: float) -> bool:
        return g(c, price) <= 0.0

    lo = hi = c.entry
    if healthy_above:  # bad below, good above
        while bad(hi):
            hi *= 2.0
        while not bad(lo):
            lo /= 2.0
    else:  # good below, bad above
        while bad(lo):
            lo /= 2.0
        while not bad(hi):
            hi *= 2.0
    for _ in range(2000):
        mid = lo + (hi - lo) / 2.0
        if mid in (lo, hi):
            break
        if bad(mid) == healthy_above:
            lo = mid
        else:
            hi = mid
    return hi if healthy_above else lo


@SETTINGS
@given(cases())
def test_agrees_with_bisection(c: Case) -> None:
    assume(abs(g_limit_small_notional(c)) > 1e-12 * g_scale(c, c.entry))
    ours, brute = c.lp(), bisect_liquidation(c)
    if ours is None or brute is None or ours == 0.0 or math.isinf(ours):
        assert ours == brute
        return
    assert brute is not None
    # Relative 1e-9; the tiny absolute floor covers prices far below entry, where rounding of
    # the entry-sized terms in g dominates.
    assert math.isclose(ours, brute, rel_tol=1e-9, abs_tol=1e-13 * c.entry), (ours, brute)


# --- (f) inconsistent tables: the boundary rule, never an exception --------------------------------


@SETTINGS
@given(cases(consistent=False))
def test_inconsistent_tables_return_a_sign_change(c: Case) -> None:
    lp = c.lp()  # must not raise
    healthy_above = c.side == "long"
    if lp is None:
        # No root at positive notional in the first tier: healthy as the notional tends to 0.
        tiny = c.table.mins[1] / 2.0 if len(c.table) > 1 else 1e-9 * g_scale(c, c.entry)
        price = c.q / tiny if c.inverse else tiny / c.q
        assert g(c, price) > -1e-9 * g_scale(c, price)
        return
    if lp == 0.0 or math.isinf(lp):
        tiny = c.table.mins[1] / 2.0 if len(c.table) > 1 else 1e-9 * g_scale(c, c.entry)
        price = c.q / tiny if c.inverse else tiny / c.q
        assert g(c, price) < 1e-9 * g_scale(c, price)
        return
    assert lp > 0.0
    delta = 1e-6
    below, above = g(c, lp * (1.0 - delta)), g(c, lp * (1.0 + delta))
    tol = 1e-12 * g_scale(c, lp)
    good, bad = (above, below) if healthy_above else (below, above)
    assert good >= -tol, (good, bad)
    assert bad <= tol, (good, bad)


@pytest.mark.parametrize(
    ("side", "contracts", "wallet", "inverse"),
    [
        pytest.param("long", 2.0, 100_000.0, False, id="linear-long-1x"),
        pytest.param("short", 50_000.0, 1.0, True, id="inverse-short-1x"),
    ],
)
def test_legs_exact_full_cover(side: str, contracts: float, wallet: float, inverse: bool) -> None:
    # A 1x position whose wallet exactly equals its entry notional (1 BTC behind a 50 000 USD
    # inverse short at 50 000; 100 000 USDT behind 2 BTC long at 50 000): the margin balance
    # reaches the (vanishing) maintenance only in the limit price -> 0 (linear long) or
    # price -> inf (inverse short). liquidation_price says None; the legs solver must agree
    # ("None on a side where no liquidation is possible"): an inf for a short would read as
    # distance 0 % (distance_pct treats inf as "liquidatable at any price") -> critical.
    table = TierTable([Tier(0.0, math.inf, 0.004, 0.0)])
    assert liquidation_price(side, contracts, 50_000.0, wallet, table, inverse=inverse) is None
    below, above = liquidation_prices_legs([Leg(side, contracts, 50_000.0, table)], wallet, 50_000.0, inverse=inverse)
    assert (below, above) == (None, None)


def test_two_legs_both_sides_worked_example() -> None:
    # Long 1 @ 1000 and short 0.9 @ 1000 in one pool of 60. Tier 0 (1 %) below 1000 notional,
    # tier 1 (30 %, amount 290) above. Below: f = -40 + 0.081 P (both legs in tier 0); above
    # 1111.1 both legs are in tier 1: f = 540 - 0.47 P.
    table = TierTable([Tier(0.0, 1000.0, 0.01, 0.0), Tier(1000.0, math.inf, 0.3, 290.0)])
    below, above = liquidation_prices_legs(
        [Leg("long", 1.0, 1000.0, table), Leg("short", 0.9, 1000.0, table)], 60.0, 1000.0
    )
    assert below is not None and above is not None
    assert math.isclose(below, 40.0 / 0.081, rel_tol=1e-12)
    assert math.isclose(above, 540.0 / 0.47, rel_tol=1e-12)
