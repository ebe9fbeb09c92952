"""An independent check of ``bot.risk.liquidation_price`` against the liquidation condition itself.

Definition (module docstring of ``bot.risk.liquidation``): a position liquidates at the mark price
P where

    g(P) = wallet + other_unrealized_pnl - other_maintenance + pnl(P) - maintenance(notional(P)) = 0

with ``maintenance(N) = N * rate_k - amount_k`` and tier k looked up at the notional *at P*.
Linear: notional = Q * P, pnl = s * Q * (P - E). Inverse (COIN-M): notional = Q / P (coin),
pnl = s * Q * (1/E - 1/P). Q = contracts * contract_size; s = +1 long, -1 short.

Two references live here, neither uses the project's tier walk:

* ``scan_reference``: walks outward from the entry price over a grid of prices (a fine geometric
  grid near entry, a coarse one out to 1e+-290, and both sides of every tier-boundary price),
  evaluates g directly and bisects the first sign change to the last bit. g is monotonic inside
  each tier, so a grid that contains every tier boundary cannot step over a sign change.
* ``faq_reference`` (consistent tables only): Binance's published closed forms (USDⓈ-M and
  COIN-M FAQ) evaluated for every tier; per the FAQ, the answer is the tier whose notional at the
  resulting price lies in that tier ("substitute the other level's rate and amount and
  recalculate").

Published numbers: the Binance USDⓈ-M FAQ calc examples are in ``test_reference_vectors.py``;
here are COIN-M ones (Binance's own calculator output quoted on dev.binance.vision, the COIN-M
FAQ's tier facts and maintenance-margin example) and the USDⓈ-M FAQ's tier facts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.risk import Tier, liquidation_price

EPS = 2.0**-52
REL = 1e-6  # what outside checkers ask for
SETTINGS = settings(max_examples=400, deadline=None)

# --- the definition, written out ------------------------------------------------------------------


def sign(side: str) -> int:
    return 1 if side == "long" else -1


def tier_of(tiers: Sequence[Tier], notional: float) -> Tier:
    """The tier whose range [min_notional, next tier's min_notional) holds ``notional``; the
    lowest tier also takes anything below, the highest anything above (even past its max)."""
    rows = sorted(tiers, key=lambda t: t.min_notional)
    chosen = rows[0]
    for t in rows:
        if t.min_notional <= notional:
            chosen = t
    return chosen


@dataclass(frozen=True)
class Pos:
    side: str
    contracts: float
    entry: float
    wallet: float
    tiers: tuple[Tier, ...]
    contract_size: float = 1.0
    inverse: bool = False
    other_mm: float = 0.0
    other_upnl: float = 0.0

    @property
    def s(self) -> int:
        return sign(self.side)

    @property
    def q(self) -> float:
        return self.contracts * self.contract_size

    @property
    def k(self) -> float:
        return self.wallet + self.other_upnl - self.other_mm

    def notional(self, price: float) -> float:
        return self.q / price if self.inverse else self.q * price

    def pnl(self, price: float) -> float:
        if self.inverse:
            return self.s * self.q * (1.0 / self.entry - 1.0 / price)
        return self.s * self.q * (price - self.entry)

    def g(self, price: float) -> float:
        n = self.notional(price)
        t = tier_of(self.tiers, n)
        return self.k + self.pnl(price) - (n * t.maintenance_margin_rate - t.maintenance_amount)

    def limit_small_notional(self) -> float:
        """g where the notional tends to 0: price -> 0 (linear) or price -> inf (inverse)."""
        lost = self.s * self.q * self.entry if not self.inverse else -self.s * self.q / self.entry
        return self.k - lost + tier_of(self.tiers, 0.0).maintenance_amount

    def scale(self, price: float) -> float:
        """Size of the terms summed in g at ``price`` (yardstick for float error)."""
        n = self.notional(price)
        t = tier_of(self.tiers, n)
        return (abs(self.wallet) + abs(self.other_mm) + abs(self.other_upnl) + self.notional(self.entry) + n
                + abs(t.maintenance_amount))

    def slope(self, price: float) -> float:
        """|dg/dP| inside the tier at ``price``."""
        r = tier_of(self.tiers, self.notional(price)).maintenance_margin_rate
        if self.inverse:
            return self.q * abs(self.s + r) / (price * price)
        return self.q * abs(self.s - r)

    def project(self, **overrides: float) -> float | None:
        kw = {"wallet": self.wallet, "contracts": self.contracts, "contract_size": self.contract_size,
              "other_mm": self.other_mm, "other_upnl": self.other_upnl, **overrides}
        return liquidation_price(
            self.side, kw["contracts"], self.entry, kw["wallet"], list(self.tiers),
            contract_size=kw["contract_size"], inverse=self.inverse,
            other_maintenance=kw["other_mm"], other_unrealized_pnl=kw["other_upnl"],
        )


# --- reference 1: grid scan + bisection on g --------------------------------------------------------


def boundary_prices(p: Pos) -> list[float]:
    out = []
    for t in p.tiers:
        if t.min_notional > 0.0:
            out.append(p.q / t.min_notional if p.inverse else t.min_notional / p.q)
    return out


def scan_points(p: Pos, upward: bool) -> Iterator[float]:
    """Prices strictly beyond the entry in one direction, nearest first."""
    e = p.entry
    pts: set[float] = set()
    for b in boundary_prices(p):
        pts.update((b * (1.0 - 1e-12), b, b * (1.0 + 1e-12)))
    for i in range(1, 400):
        pts.add(e * 1.02**i if upward else e / 1.02**i)
    for i in range(1, 291):
        pts.add(e * 10.0**i if upward else e / 10.0**i)
    good = [x for x in pts if 0.0 < x < math.inf and (x > e if upward else x < e)]
    yield from sorted(good, reverse=not upward)


def bisect(ok: float, hit: float, is_hit: Callable[[float], bool]) -> float:
    """ok/hit bracket the change of ``is_hit``; bisect to adjacent floats."""
    for _ in range(5000):
        mid = ok + (hit - ok) / 2.0
        if mid in (ok, hit):
            break
        if is_hit(mid):
            hit = mid
        else:
            ok = mid
    return hit


class Unresolved(Exception):
    """The reference cannot tell (a root beyond 1e290 x entry: the limit is ~0)."""


def scan_reference(p: Pos) -> float | None:
    """The sign change of g nearest the entry on the adverse side (price down for a long, up for a
    short, linear or inverse alike). When g(E) <= 0 (already liquidatable) the nearest sign change
    on the favourable side: for a consistent table, the unique root of g."""
    adverse_up = p.s == -1
    at_entry = p.g(p.entry)
    if at_entry > 0.0:
        def is_hit(x: float) -> bool:
            return p.g(x) <= 0.0
        upward = adverse_up
    else:
        def is_hit(x: float) -> bool:
            return p.g(x) > 0.0
        upward = not adverse_up
        if at_entry == 0.0:
            return p.entry
    prev = p.entry
    for x in scan_points(p, upward):
        if is_hit(x):
            return bisect(prev, x, is_hit)
        prev = x
    # Ran off the grid: only possible towards notional -> 0 (linear P -> 0, inverse P -> inf);
    # towards notional -> inf, g -> -inf (adverse) or +inf (favourable) and the grid hits first.
    limit = p.limit_small_notional()
    if at_entry > 0.0:
        if limit > 0.0:
            return None  # collateral covers the whole move
        raise Unresolved
    if limit <= 0.0:
        return math.inf if p.inverse else 0.0  # liquidatable at any price
    raise Unresolved


# --- reference 2: Binance's FAQ formulas with tier substitution -------------------------------------


def faq_reference(p: Pos) -> float | None:
    """Binance one-way formulas, tried with every tier's (MMR, cum); keep the self-consistent one.

    USDⓈ-M:  LP = (WB - TMM1 + UPNL1 + cum - s*Pos*EP) / (Pos*MMR - s*Pos)          (Pos in base)
    COIN-M:  LP = (Pos*MMR + s*Pos) / ((WB - TMM1 + UPNL1 + cum)/CS + s*Pos/EP)      (Pos contracts)
    """
    rows = sorted(p.tiers, key=lambda t: t.min_notional)
    found: list[float] = []
    for i, t in enumerate(rows):
        r, cum = t.maintenance_margin_rate, t.maintenance_amount
        if p.inverse:
            den = (p.k + cum) / p.contract_size + p.s * p.contracts / p.entry
            if den == 0.0:
                continue
            lp = (p.contracts * r + p.s * p.contracts) / den
        else:
            pos = p.contracts * p.contract_size
            lp = (p.k + cum - p.s * pos * p.entry) / (pos * r - p.s * pos)
        if not (lp > 0.0 and math.isfinite(lp)):
            continue
        n = p.notional(lp)
        lo = rows[i].min_notional if i > 0 else -math.inf
        hi = rows[i + 1].min_notional if i + 1 < len(rows) else math.inf
        if lo * (1.0 - 1e-9) <= n < hi * (1.0 + 1e-9):
            found.append(lp)
    if found:
        assert max(found) - min(found) <= 1e-9 * max(found), found  # adjacent tiers agree at a boundary
        return found[0]
    # No positive price: the FAQ's "--". A long (inverse short) is then safe at any price; a
    # linear short (inverse long) is past liquidation at any price.
    if (p.s == 1) != p.inverse:
        return None
    return math.inf if p.inverse else 0.0


# --- comparison -------------------------------------------------------------------------------------


def assert_agrees(p: Pos, got: float | None, ref: float | None, label: str) -> None:
    if ref is None or got is None or ref in (0.0, math.inf) or got in (0.0, math.inf):
        assert got == ref, f"{label}: project {got!r} vs reference {ref!r} for {p}"
        return
    # 1e-6 relative; plus the float floor of the problem itself (a root far below a linear
    # long's entry is fixed by the difference of two entry-sized terms).
    floor = 1e4 * EPS * p.scale(ref) / p.slope(ref)
    assert abs(got - ref) <= max(REL * abs(ref), floor), (
        f"{label}: project {got!r} vs reference {ref!r} (rel {abs(got - ref) / abs(ref):.3g}) for {p}"
    )


def well_posed(p: Pos) -> bool:
    """Excludes exact ties where the answer flips between None/0/inf and a finite price on a
    rounding error (the wallet covering the whole move to the last cent)."""
    return abs(p.limit_small_notional()) > 1e-9 * p.scale(p.entry)


# --- tables -----------------------------------------------------------------------------------------


def consistent(rows: Sequence[tuple[float, float, float]]) -> tuple[Tier, ...]:
    """(min, max, rate) rows -> tiers with amount_k = amount_{k-1} + min_k * (rate_k - rate_{k-1})."""
    out, amount, prev = [], 0.0, 0.0
    for lo, hi, rate in rows:
        amount += lo * (rate - prev)
        out.append(Tier(lo, hi, rate, amount))
        prev = rate
    return tuple(out)


# Binance USDⓈ-M BTCUSDT ladder of the FAQ era (2021): the FAQ's own anchors are "264,000 USDT ->
# 1 %", "500,000 USDT -> amount 1,300" and "level 3 = 250,000 * (1 % - 0.5 %) + 50 = 1,300".
BTCUSDT_2021 = consistent([
    (0, 50e3, 0.004), (50e3, 250e3, 0.005), (250e3, 1e6, 0.01), (1e6, 10e6, 0.025), (10e6, 20e6, 0.05),
    (20e6, 50e6, 0.10), (50e6, 100e6, 0.125), (100e6, 200e6, 0.15), (200e6, 300e6, 0.25), (300e6, 500e6, 0.5),
])
# Binance USDⓈ-M BTCUSDT 2024-02 (tests/data/binance_usdm_brackets_2024-02.json, typed in again).
BTCUSDT_2024 = consistent([
    (0, 50e3, 0.004), (50e3, 600e3, 0.005), (600e3, 3e6, 0.0065), (3e6, 12e6, 0.01), (12e6, 70e6, 0.02),
    (70e6, 100e6, 0.025), (100e6, 230e6, 0.05), (230e6, 480e6, 0.1), (480e6, 600e6, 0.125),
    (600e6, 800e6, 0.15), (800e6, 1.2e9, 0.25), (1.2e9, 1.8e9, 0.5),
])
# A COIN-M-like ladder in BTC. Its 200-400 BTC row gives 12.5 % and amount 11.605 BTC, the COIN-M
# FAQ's numbers for a 300 BTC BTCUSD position; the other rows are illustrative.
BTCUSD_COINM = consistent([
    (0, 5, 0.004), (5, 10, 0.005), (10, 20, 0.01), (20, 50, 0.025), (50, 100, 0.05), (100, 200, 0.1),
    (200, 400, 0.125), (400, 1000, 0.15), (1000, 1500, 0.25), (1500, 3000, 0.5),
])


def test_table_anchors() -> None:
    assert tier_of(BTCUSDT_2021, 264_000.0).maintenance_margin_rate == 0.01
    assert tier_of(BTCUSDT_2021, 500_000.0).maintenance_amount == pytest.approx(1_300.0, abs=1e-9)
    assert [t.maintenance_amount for t in BTCUSDT_2024][-1] == pytest.approx(421_481_450.0, abs=1e-6)
    t300 = tier_of(BTCUSD_COINM, 300.0)
    assert (t300.maintenance_margin_rate, t300.maintenance_amount) == (0.125, pytest.approx(11.605, abs=1e-12))


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi).map(lambda x: 10.0**x)


@st.composite
def ladders(draw: st.DrawFn, scale: float) -> tuple[Tier, ...]:
    """Binance-like: floors growing 1.2-10x from around ``scale``, rates rising to at most 0.5,
    amounts by the continuity recursion; the last tier's max is finite (as on Binance) or inf."""
    n = draw(st.integers(1, 12))
    mins = [0.0]
    floor = scale * draw(log_uniform(-2.0, 1.0))
    for _ in range(n - 1):
        mins.append(floor)
        floor *= draw(st.floats(1.2, 10.0))
    rates = [draw(st.sampled_from([0.001, 0.0025, 0.004, 0.005, 0.0065, 0.01, 0.02, 0.05]))]
    while len(rates) < len(mins):
        nxt = min(rates[-1] * draw(st.floats(1.05, 2.5)), 0.5)
        if nxt <= rates[-1]:
            break
        rates.append(nxt)
    mins = mins[: len(rates)]
    top = draw(st.sampled_from([math.inf, mins[-1] * 2.0 + 1.0]))
    table = consistent(list(zip(mins, [*mins[1:], top], rates, strict=True)))
    return tuple(draw(st.permutations(table)))  # any order is accepted


@st.composite
def random_table(draw: st.DrawFn, scale: float) -> tuple[Tier, ...]:
    """Not continuous: rates in any order, amounts anything (maintenance jumps at boundaries)."""
    n = draw(st.integers(1, 6))
    mins = [0.0]
    for _ in range(n - 1):
        mins.append(mins[-1] + scale * draw(log_uniform(-2.0, 0.7)))
    rates = [draw(st.floats(0.0, 0.6)) for _ in mins]
    amounts = [draw(st.floats(-0.1, 0.3)) * (m if m > 0 else scale) for m in mins]
    return tuple(Tier(lo, hi, r, a) for lo, hi, r, a in zip(mins, [*mins[1:], math.inf], rates, amounts, strict=True))


@st.composite
def positions(draw: st.DrawFn, table_kind: str = "ladder") -> Pos:
    inverse = draw(st.booleans())
    side = draw(st.sampled_from(["long", "short"]))
    scale = draw(log_uniform(-2.0, 8.0))  # where the tiers start, in quote (linear) or coin (inverse)
    if table_kind == "ladder":
        tiers = draw(ladders(scale))
    elif table_kind == "random":
        tiers = draw(random_table(scale))
    else:  # a real or FAQ-anchored table at its own scale
        tiers = draw(st.sampled_from([BTCUSDT_2021, BTCUSDT_2024] if not inverse else [BTCUSD_COINM]))
        scale = 1e5 if not inverse else 10.0
    entry = draw(log_uniform(-4.0, 5.0) if not inverse else log_uniform(0.0, 5.3))
    contract_size = draw(st.sampled_from([1.0, 0.001, 0.01, 0.1, 10.0, 100.0] if not inverse else [1.0, 10.0, 100.0]))
    entry_notional = scale * draw(log_uniform(-2.0, 4.0))  # up to far past the top tier
    q = entry_notional * entry if inverse else entry_notional / entry
    contracts = q / contract_size
    # Collateral net of the other positions, K = wallet + other_upnl - other_mm, set against the
    # maintenance margin at entry: mostly a cushion of 0.01 %-100 % of the notional (leveraged),
    # some 50-150 % (over-collateralised: no liquidation for a long / an inverse short), some
    # below maintenance (already liquidatable; deep enough for "at any price" too).
    t = tier_of(tiers, entry_notional)
    maintenance = entry_notional * t.maintenance_margin_rate - t.maintenance_amount
    cushion = draw(st.one_of(log_uniform(-4.0, 0.0), log_uniform(-4.0, 0.0), st.floats(0.5, 1.5),
                             log_uniform(-4.0, 0.5).map(lambda x: -x)))
    k = maintenance + cushion * entry_notional
    other_mm = other_upnl = 0.0
    if draw(st.booleans()):  # cross margin: the other positions' maintenance and PnL
        other_mm = draw(st.floats(0.0, 0.3)) * entry_notional
        other_upnl = draw(st.floats(-0.5, 0.5)) * entry_notional
    wallet = k - other_upnl + other_mm
    return Pos(side, contracts, entry, wallet, tiers, contract_size, inverse, other_mm, other_upnl)


# --- property tests ---------------------------------------------------------------------------------


def checked(p: Pos, with_faq: bool) -> None:
    assume(well_posed(p))
    try:
        ref = scan_reference(p)
    except Unresolved:
        assume(False)
        raise
    got = p.project()
    assert_agrees(p, got, ref, "scan")
    if with_faq:
        assert_agrees(p, got, faq_reference(p), "faq")
    if with_faq and got is not None and 0.0 < got < math.inf:  # continuous g: a true root
        assert abs(p.g(got)) <= 1e-7 * p.scale(got) + 1e4 * EPS * p.scale(got)


@SETTINGS
@given(positions())
def test_binance_like_ladders_match_both_references(p: Pos) -> None:
    checked(p, with_faq=True)


@settings(max_examples=300, deadline=None)
@given(positions("real"))
def test_real_tables_match_both_references(p: Pos) -> None:
    checked(p, with_faq=True)


@settings(max_examples=300, deadline=None)
@given(positions("random"))
def test_random_tables_nearest_adverse_sign_change(p: Pos) -> None:
    # With jumps in the maintenance margin, g can have several roots; the liquidation is the first
    # sign change met as the price moves against the position. An already-liquidatable position
    # has no such "first" and is left out.
    assume(p.g(p.entry) > 1e-9 * p.scale(p.entry))
    checked(p, with_faq=False)


@settings(max_examples=300, deadline=None)
@given(positions(), st.floats(0.0, 1.0), st.floats(-1.0, 1.0), st.sampled_from([0.001, 0.1, 7.0, 100.0]))
def test_only_collateral_sum_and_quantity_matter(p: Pos, mm_frac: float, upnl_frac: float, cs: float) -> None:
    # The definition uses wallet + other_upnl - other_mm and contracts * contract_size only.
    assume(well_posed(p))
    base = p.project()
    size = p.notional(p.entry)
    mm, upnl = mm_frac * size, upnl_frac * size
    moved = p.project(wallet=p.k + mm - upnl, other_mm=mm, other_upnl=upnl)
    resized = p.project(contracts=p.q / cs, contract_size=cs)
    for other in (moved, resized):
        if base is None or other is None or base in (0.0, math.inf):
            assert other == base
        else:
            assert other is not None
            assert math.isclose(other, base, rel_tol=1e-9), (other, base)


# --- edge cases -------------------------------------------------------------------------------------

FLAT = (Tier(0.0, math.inf, 0.004, 0.0),)


@pytest.mark.parametrize(
    ("side", "inverse", "contracts", "wallet"),
    [
        pytest.param("long", False, 2.0, 150_000.0, id="linear-long-over-collateralised"),
        pytest.param("long", False, 2.0, 100_000.0 * 0.99, id="linear-long-1x-but-maintenance-short"),
        pytest.param("short", True, 50_000.0, 1.5, id="inverse-short-over-collateralised"),
        pytest.param("short", True, 50_000.0, 1.0 - 1e-3, id="inverse-short-1x-wallet-short"),
    ],
)
def test_none_only_when_collateral_covers_the_whole_move(side: str, inverse: bool, contracts: float,
                                                         wallet: float) -> None:
    p = Pos(side, contracts, 50_000.0, wallet, BTCUSDT_2024 if not inverse else BTCUSD_COINM, inverse=inverse)
    ref = scan_reference(p)
    assert (ref is None) == (p.limit_small_notional() > 0.0)
    assert_agrees(p, p.project(), ref, "scan")


def test_exact_full_cover_is_none() -> None:
    # 2 BTC long at 50 000 backed by 100 000 USDT: g only reaches 0 as P -> 0.
    assert liquidation_price("long", 2.0, 50_000.0, 100_000.0, list(FLAT)) is None
    # 50 000 USD inverse short at 50 000 backed by 1 BTC: g only reaches 0 as P -> inf.
    assert liquidation_price("short", 50_000.0, 50_000.0, 1.0, list(FLAT), inverse=True) is None


@pytest.mark.parametrize(
    ("side", "inverse", "wallet", "other_upnl", "expect"),
    [
        # g(E) < 0: the unique root of g lies on the favourable side of the entry.
        pytest.param("long", False, 10.0, -5_000.0, "above", id="linear-long-sunk-by-other-positions"),
        pytest.param("short", False, 10.0, -5_000.0, "below", id="linear-short-sunk"),
        pytest.param("short", False, 10.0, -200_000.0, 0.0, id="linear-short-liquidatable-at-any-price"),
        pytest.param("long", True, 0.001, -0.01, "above", id="inverse-long-sunk"),
        pytest.param("long", True, 0.001, -5.0, math.inf, id="inverse-long-liquidatable-at-any-price"),
        pytest.param("short", True, 0.001, -0.2, "below", id="inverse-short-sunk"),
    ],
)
def test_already_liquidatable(side: str, inverse: bool, wallet: float, other_upnl: float,
                              expect: object) -> None:
    contracts = 1_000.0 if inverse else 2.0  # ~0.02 BTC (inverse) / 100 000 USDT (linear) at 50 000
    tiers = BTCUSD_COINM if inverse else BTCUSDT_2024
    p = Pos(side, contracts, 50_000.0, wallet, tiers, contract_size=1.0, inverse=inverse, other_upnl=other_upnl)
    assert p.g(p.entry) < 0.0
    got, ref = p.project(), scan_reference(p)
    assert_agrees(p, got, ref, "scan")
    assert_agrees(p, got, faq_reference(p), "faq")
    if expect == "above":
        assert got is not None and got > p.entry
    elif expect == "below":
        assert got is not None and got < p.entry
    else:
        assert got == expect


@pytest.mark.parametrize(
    ("side", "inverse", "contracts", "entry", "wallet", "lp"),
    [
        # Linear, BTCUSDT 2024: 10 BTC liquidating at 60 000 is 600 000 notional, the floor of the
        # 0.65 % tier; MM there = 600 000 * 0.0065 - 950 = 600 000 * 0.005 - 50 = 2 950.
        pytest.param("long", False, 10.0, 65_000.0, 2_950.0 + 50_000.0, 60_000.0, id="linear-long"),
        pytest.param("short", False, 10.0, 55_000.0, 2_950.0 + 50_000.0, 60_000.0, id="linear-short"),
        # Inverse, COIN-M ladder: 8M USD at 40 000 is 200 BTC, the floor of the 12.5 % tier;
        # MM = 200 * 0.125 - 11.605 = 13.395 BTC; loss from 50 000 (30 000) = 40 BTC.
        pytest.param("long", True, 80_000.0, 50_000.0, 13.395 + 40.0, 40_000.0, id="inverse-long"),
        pytest.param("short", True, 80_000.0, 30_000.0, 13.395 + 8e6 * (1 / 30_000 - 1 / 40_000), 40_000.0,
                     id="inverse-short"),
    ],
)
def test_liquidation_exactly_at_a_tier_boundary(side: str, inverse: bool, contracts: float, entry: float,
                                                wallet: float, lp: float) -> None:
    tiers = BTCUSD_COINM if inverse else BTCUSDT_2024
    p = Pos(side, contracts, entry, wallet, tiers, contract_size=100.0 if inverse else 1.0, inverse=inverse)
    got = p.project()
    assert got is not None
    assert math.isclose(got, lp, rel_tol=1e-12)
    assert_agrees(p, got, scan_reference(p), "scan")
    assert_agrees(p, got, faq_reference(p), "faq")


def test_jump_at_a_tier_boundary_of_an_inconsistent_table() -> None:
    # Amount 50 instead of the continuous 10: MM is 10 just below 1 000 notional and -30 at 1 000.
    # Long 1 @ 1 100 with wallet 90: g(1000+) = 90 - 100 + 30 = 20 > 0, g(1000-) = 90 - 100 - 10 = -20.
    tiers = (Tier(0.0, 1_000.0, 0.01, 0.0), Tier(1_000.0, math.inf, 0.02, 50.0))
    p = Pos("long", 1.0, 1_100.0, 90.0, tiers)
    assert p.project() == 1_000.0
    assert_agrees(p, p.project(), scan_reference(p), "scan")
    # The mirror image for an inverse short (notional falls as the price rises).
    q = Pos("short", 1_000.0, 1.1, 90.0, tiers, inverse=True)  # notional at entry ~909
    ref = scan_reference(q)
    assert_agrees(q, q.project(), ref, "scan")


def test_huge_position_past_the_top_tier() -> None:
    # 50 000 BTC at 60 000 = 3e9 notional, past the 1.8e9 max of the top tier: the top tier
    # (50 %, amount 421 481 450) still applies. LP = (W + cum - Q E) / (Q (MMR - 1)).
    p = Pos("long", 50_000.0, 60_000.0, 1.5e9, BTCUSDT_2024)
    got = p.project()
    assert got is not None
    assert math.isclose(got, (1.5e9 + 421_481_450.0 - 3e9) / (50_000.0 * -0.5), rel_tol=1e-12)
    assert math.isclose(got, 43_140.742, rel_tol=1e-12)
    assert_agrees(p, got, scan_reference(p), "scan")
    short = Pos("short", 50_000.0, 60_000.0, 1.5e9, BTCUSDT_2024)
    assert_agrees(short, short.project(), scan_reference(short), "scan")
    assert_agrees(short, short.project(), faq_reference(short), "faq")
    inv = Pos("long", 1e8, 50_000.0, 1_000.0, BTCUSD_COINM, contract_size=100.0, inverse=True)  # 2e5 BTC
    assert_agrees(inv, inv.project(), scan_reference(inv), "scan")
    assert_agrees(inv, inv.project(), faq_reference(inv), "faq")


def test_tier_at_liquidation_not_at_entry() -> None:
    # 12 BTC long at 60 000 (720 000 notional: 0.65 % tier) with 200 000 USDT: the entry tier's
    # formula gives (200000 + 950 - 720000) / (12 * (0.0065 - 1)) = 43 455.7, where the notional
    # (521 468) is in the 0.5 % tier; the right answer uses that tier.
    p = Pos("long", 12.0, 60_000.0, 200_000.0, BTCUSDT_2024)
    entry_tier_lp = (200_000.0 + 950.0 - 720_000.0) / (12.0 * (0.0065 - 1.0))
    right = (200_000.0 + 50.0 - 720_000.0) / (12.0 * (0.005 - 1.0))
    got = p.project()
    assert got is not None
    assert math.isclose(got, right, rel_tol=1e-12)
    assert not math.isclose(got, entry_tier_lp, rel_tol=1e-6)
    assert tier_of(BTCUSDT_2024, 12.0 * got).maintenance_margin_rate == 0.005


def test_contract_size_conventions() -> None:
    # Linear: 1000 contracts of 0.001 BTC = 1 BTC. Inverse: 100 contracts of 100 USD = 10 000 USD.
    one = liquidation_price("long", 1.0, 50_000.0, 5_000.0, list(BTCUSDT_2024))
    milli = liquidation_price("long", 1_000.0, 50_000.0, 5_000.0, list(BTCUSDT_2024), contract_size=0.001)
    assert one is not None and milli is not None and math.isclose(one, milli, rel_tol=1e-12)
    usd = liquidation_price("short", 10_000.0, 25_000.0, 0.05, list(BTCUSD_COINM), inverse=True)
    hundreds = liquidation_price("short", 100.0, 25_000.0, 0.05, list(BTCUSD_COINM), contract_size=100.0,
                                 inverse=True)
    assert usd is not None and hundreds is not None and math.isclose(usd, hundreds, rel_tol=1e-12)


def test_random_positions_seeded_sweep() -> None:
    # A plain seeded sweep (no shrinking, no health checks) over the real tables: every leverage
    # from 1x to 125x, both sides, linear and inverse, isolated and cross.
    rng = random.Random(20240201)
    n = 0
    for _ in range(400):
        inverse = rng.random() < 0.5
        tiers = BTCUSD_COINM if inverse else rng.choice([BTCUSDT_2021, BTCUSDT_2024])
        entry = 10 ** rng.uniform(3.0, 5.0)
        size = 10 ** rng.uniform(-1.0, 3.5) if inverse else 10 ** rng.uniform(3.0, 9.5)
        cs = 100.0 if inverse else 0.001
        contracts = (size * entry if inverse else size / entry) / cs
        wallet = size / rng.uniform(1.0, 125.0)
        cross = rng.random() < 0.5
        p = Pos(rng.choice(["long", "short"]), contracts, entry, wallet, tiers, cs, inverse,
                rng.uniform(0, 0.2) * size if cross else 0.0, rng.uniform(-0.5, 0.5) * size if cross else 0.0)
        if not well_posed(p):
            continue
        got = p.project()
        assert_agrees(p, got, scan_reference(p), "scan")
        assert_agrees(p, got, faq_reference(p), "faq")
        n += 1
    assert n > 350


# --- published examples -----------------------------------------------------------------------------


def test_binance_coinm_calculator_example() -> None:
    # dev.binance.vision/t/6292 ("Coin-margined futures liquidation price calculation"): wallet 101
    # BTC, long 100 000 BTCUSD contracts (10 000 000 USD) at 45 000; Binance's calculator shows
    # 33,599.40; the poster's own formula gave 33,578.859744834. The position's notional at the
    # answer is ~298 BTC, and the COIN-M FAQ gives the 300 BTC level as 12.5 % with amount 11.605
    # BTC (current FAQ) or 11.81 BTC (older FAQ): the calculator used 11.605 (displayed on the
    # 0.1 USD tick), the poster the older 11.81 (matched to all his digits).
    new = liquidation_price("long", 100_000, 45_000.0, 101.0, [Tier(0.0, math.inf, 0.125, 11.605)],
                            contract_size=100, inverse=True)
    old = liquidation_price("long", 100_000, 45_000.0, 101.0, [Tier(0.0, math.inf, 0.125, 11.81)],
                            contract_size=100, inverse=True)
    assert new is not None and old is not None
    assert abs(new - 33_599.40) < 0.1
    assert math.isclose(old, 33_578.859744834, rel_tol=1e-12)
    assert 200.0 <= 1e7 / new < 400.0  # in the 12.5 % level assumed
    # The same with the whole ladder: the tier walk lands on the same level.
    full = liquidation_price("long", 100_000, 45_000.0, 101.0, list(BTCUSD_COINM), contract_size=100, inverse=True)
    assert full is not None and math.isclose(full, new, rel_tol=1e-12)


@pytest.mark.parametrize(("side", "entry"), [("long", 30_000.0), ("short", 24_000.0)])
def test_binance_coinm_faq_maintenance_example(side: str, entry: float) -> None:
    # COIN-M FAQ: 100 BTCUSD contracts (100 USD each) at mark 25 000 are 100 * 100 / 25 000 = 0.4 BTC
    # of notional, level 1, maintenance 0.4 * 0.4 % - 0 = 0.0016 BTC. A position whose margin
    # balance at 25 000 is exactly that liquidates at 25 000.
    p = Pos(side, 100.0, entry, 0.0, BTCUSD_COINM, contract_size=100.0, inverse=True)
    assert p.notional(25_000.0) == pytest.approx(0.4, rel=1e-15)
    wallet = 0.0016 - p.pnl(25_000.0)
    got = liquidation_price(side, 100, entry, wallet, list(BTCUSD_COINM), contract_size=100, inverse=True)
    assert got is not None and math.isclose(got, 25_000.0, rel_tol=1e-9)


def test_binance_usdm_faq_tiered_procedure() -> None:
    # USDⓈ-M FAQ procedure on its own BTCUSDT ladder: 1 BTC long at 30 000 with 10 000 USDT. At the
    # entry level (30 000 notional, 0.4 %) the formula gives (10000 + 0 - 30000) / (0.004 - 1) =
    # 20 080.3, still level 1 -> that is the answer. 10 BTC at 30 000 with 30 000 USDT: level 3 at
    # entry (300 000) gives (30000 + 1300 - 300000) / (10 * -0.99) = 27 141.3 -> 271 413 is level 3.
    a = liquidation_price("long", 1.0, 30_000.0, 10_000.0, list(BTCUSDT_2021))
    b = liquidation_price("long", 10.0, 30_000.0, 30_000.0, list(BTCUSDT_2021))
    assert a is not None and math.isclose(a, 20_000.0 / 0.996, rel_tol=1e-12)
    assert b is not None and math.isclose(b, 268_700.0 / 9.9, rel_tol=1e-12)
    # Short 10 BTC at 24 000 with 30 000 USDT: level 2 at entry (240 000) gives (30000 + 50 + 240000)
    # / (10 * 1.005) = 26 870.6 -> 268 706 notional is level 3 (>= 250 000): recalculate with level 3:
    # (30000 + 1300 + 240000) / (10 * 1.01) = 26 861.4, notional 268 614, level 3. Answer.
    c = liquidation_price("short", 10.0, 24_000.0, 30_000.0, list(BTCUSDT_2021))
    assert c is not None and math.isclose(c, 271_300.0 / 10.1, rel_tol=1e-12)
