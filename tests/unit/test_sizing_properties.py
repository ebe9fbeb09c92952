"""Property tests of ``bot.risk.sizing``: the closed forms must land the liquidation price,
recomputed by ``liquidation_price`` after the action, on the target."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.risk import (
    Tier,
    TierTable,
    collateral_to_liquidation_price,
    collateral_to_target,
    contracts_after_reduce_to_target,
    contracts_to_reduce_to_target,
    distance_pct,
    hedge_contracts,
    liquidation_price,
    target_liquidation_price,
)
from bot.risk.tables import table_for

SETTINGS = settings(max_examples=200, deadline=None)
BTC = table_for("binance-usdm-2024-02", "BTC/USDT:USDT")


def log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    return st.floats(lo_exp, hi_exp, allow_nan=False, allow_infinity=False).map(lambda x: 10.0**x)


@st.composite
def consistent_tables(draw: st.DrawFn, scale: float) -> TierTable:
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
    amounts = [0.0]
    for k in range(1, n):
        amounts.append(amounts[-1] + mins[k] * (rates[k] - rates[k - 1]))
    maxs = [*mins[1:], math.inf]
    return TierTable(Tier(*row) for row in zip(mins, maxs, rates, amounts, strict=True))


@dataclass(frozen=True)
class Case:
    side: str
    inverse: bool
    contracts: float
    contract_size: float
    entry: float
    mark: float
    wallet: float
    other_mm: float
    other_upnl: float
    table: TierTable
    target: float  # percent of mark
    fee: float

    @property
    def s(self) -> int:
        return 1 if self.side == "long" else -1

    @property
    def kw(self) -> dict[str, object]:
        return {
            "contract_size": self.contract_size,
            "inverse": self.inverse,
            "other_maintenance": self.other_mm,
            "other_unrealized_pnl": self.other_upnl,
        }

    def lp(self, contracts: float | None = None, wallet: float | None = None) -> float | None:
        return liquidation_price(
            self.side, self.contracts if contracts is None else contracts, self.entry,
            self.wallet if wallet is None else wallet, self.table, **self.kw,  # type: ignore[arg-type]
        )

    @property
    def target_price(self) -> float:
        return self.mark * (1.0 - self.s * self.target / 100.0)

    def wallet_after_reduce(self, kept: float) -> float:
        """Margin balance kept: the closed part's PnL is realised, the fee paid at the mark."""
        closed = (self.contracts - kept) * self.contract_size
        if self.inverse:
            return self.wallet + self.s * closed * (1.0 / self.entry - 1.0 / self.mark) - self.fee * closed / self.mark
        return self.wallet + self.s * closed * (self.mark - self.entry) - self.fee * closed * self.mark


@st.composite
def cases(draw: st.DrawFn, bundled_btc: bool = False) -> Case:
    side = draw(st.sampled_from(["long", "short"]))
    inverse = False if bundled_btc else draw(st.booleans())
    contract_size = 1.0 if bundled_btc else draw(st.sampled_from([1.0, 0.001, 0.01, 10.0, 100.0]))
    if bundled_btc:  # BTC positions of 10k .. 1B USDT notional: every tier of the table
        entry = draw(st.floats(10_000.0, 120_000.0))
        contracts = draw(log_uniform(4.0, 9.0)) / entry
    else:
        entry = draw(log_uniform(-3.0, 5.0))
        contracts = draw(log_uniform(-2.0, 4.0))
    q = contracts * contract_size
    entry_notional = q / entry if inverse else q * entry
    mark = entry * draw(st.one_of(st.floats(0.95, 1.05), st.floats(0.6, 1.5)))
    wallet = entry_notional / draw(st.one_of(st.floats(1.0, 20.0), st.floats(1.0, 125.0))) * draw(st.floats(0.5, 1.5))
    cross = draw(st.booleans())
    other_mm = draw(st.floats(0.0, 0.2)) * entry_notional if cross else 0.0
    other_upnl = draw(st.floats(-0.3, 0.5)) * entry_notional if cross else 0.0
    table = BTC if bundled_btc else draw(consistent_tables(entry_notional))
    target = draw(st.one_of(st.floats(1.0, 20.0), st.floats(1.0, 60.0)))
    fee = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.001)))
    return Case(side, inverse, contracts, contract_size, entry, mark, wallet, other_mm, other_upnl, table, target, fee)


any_case = st.one_of(cases(), cases(bundled_btc=True))


# --- top-up ---------------------------------------------------------------------------------------


@SETTINGS
@given(any_case)
def test_collateral_to_target_lands_on_target(c: Case) -> None:
    amount = collateral_to_target(
        c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target, **c.kw  # type: ignore[arg-type]
    )
    assert amount >= 0.0
    if amount > 0.0:
        lp = c.lp(wallet=c.wallet + amount)
        assert lp is not None
        assert math.isclose(lp, c.target_price, rel_tol=1e-9), (lp, c.target_price)
        # and it is the least: a little less collateral leaves the liquidation nearer
        assert distance_pct(c.side, c.mark, c.lp(wallet=c.wallet + amount * (1 - 1e-6))) < c.target
    else:
        dist = distance_pct(c.side, c.mark, c.lp())
        assert dist is None or dist >= c.target * (1 - 1e-9)


@SETTINGS
@given(any_case, st.floats(0.05, 3.0))
def test_collateral_to_liquidation_price_lands_on_any_price(c: Case, factor: float) -> None:
    target = c.entry * factor
    amount = collateral_to_liquidation_price(
        c.side, c.contracts, c.entry, c.wallet, c.table, target, **c.kw  # type: ignore[arg-type]
    )
    lp = c.lp(wallet=c.wallet + amount)
    if amount > 0.0:
        assert lp is not None and math.isclose(lp, target, rel_tol=1e-9)
    else:  # already at least that far
        assert lp is None or (lp <= target * (1 + 1e-9) if c.side == "long" else lp >= target * (1 - 1e-9))


def test_collateral_to_target_validates_the_target() -> None:
    for bad in (0.0, 100.0, -1.0, 150.0):
        with pytest.raises(ValueError):
            collateral_to_target("long", 1.0, 100.0, 10.0, BTC, 100.0, bad)
    with pytest.raises(ValueError):
        collateral_to_liquidation_price("long", 1.0, 100.0, 10.0, BTC, 0.0)
    assert collateral_to_target("long", 0.0, 100.0, 10.0, BTC, 100.0, 10.0) == 0.0


def test_target_liquidation_price_convention() -> None:
    assert target_liquidation_price("long", 200.0, 10.0) == pytest.approx(180.0)
    assert target_liquidation_price("short", 200.0, 10.0) == pytest.approx(220.0)


# --- deleverage ---------------------------------------------------------------------------------------


@SETTINGS
@given(any_case)
def test_reduce_to_target_lands_on_target(c: Case) -> None:
    kept = contracts_after_reduce_to_target(
        c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target,
        taker_fee=c.fee, **c.kw,  # type: ignore[arg-type]
    )
    closed = contracts_to_reduce_to_target(
        c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target,
        taker_fee=c.fee, **c.kw,  # type: ignore[arg-type]
    )
    assert 0.0 <= kept <= c.contracts
    assert 0.0 <= closed <= c.contracts
    assert closed == pytest.approx(c.contracts - kept, rel=1e-12, abs=1e-12 * c.contracts)
    if kept == c.contracts:  # nothing to close: already at least that far
        dist = distance_pct(c.side, c.mark, c.lp())
        assert dist is None or dist >= c.target * (1 - 1e-9)
    elif kept == 0.0:  # close everything: even a sliver would sit nearer than the target, i.e.
        # what is left after closing it all (fees paid) does not cover any maintenance
        assert c.wallet_after_reduce(0.0) + c.other_upnl - c.other_mm + c.table.amounts[0] <= 1e-9 * c.wallet
    else:
        lp = c.lp(contracts=kept, wallet=c.wallet_after_reduce(kept))
        assert lp is not None
        # rel 1e-9; the small remainder of a large position amplifies rounding of the large
        # realised-PnL terms by contracts/kept, which the absolute floor allows for.
        floor = 1e-14 * c.mark * c.contracts / kept
        assert math.isclose(lp, c.target_price, rel_tol=1e-9, abs_tol=floor), (lp, c.target_price)


@SETTINGS
@given(any_case)
def test_reduce_fee_makes_the_reduce_bigger_not_smaller(c: Case) -> None:
    args = (c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target)
    free = contracts_after_reduce_to_target(*args, taker_fee=0.0, **c.kw)  # type: ignore[arg-type]
    paid = contracts_after_reduce_to_target(*args, taker_fee=0.001, **c.kw)  # type: ignore[arg-type]
    assert paid <= free * (1 + 1e-12)


def test_reduce_with_fee_worked_example() -> None:
    # Isolated BTC long, 2 @ 60 000, 12 000 wallet, mark 57 000, target 15 %, fee 0.05 %.
    c = Case("long", False, 2.0, 1.0, 60_000.0, 57_000.0, 12_000.0, 0.0, 0.0, BTC, 15.0, 0.0005)
    kept = contracts_after_reduce_to_target(
        c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target, taker_fee=c.fee
    )
    assert 0.0 < kept < c.contracts
    lp = c.lp(contracts=kept, wallet=c.wallet_after_reduce(kept))
    assert lp == pytest.approx(0.85 * 57_000.0, rel=1e-12)
    no_fee = replace(c, fee=0.0)
    kept_free = contracts_after_reduce_to_target(
        c.side, c.contracts, c.entry, c.wallet, c.table, c.mark, c.target
    )
    assert kept < kept_free
    assert no_fee.lp(contracts=kept_free, wallet=no_fee.wallet_after_reduce(kept_free)) == pytest.approx(48_450.0)


def test_reduce_validates_the_target() -> None:
    for bad in (0.0, 100.0):
        with pytest.raises(ValueError):
            contracts_after_reduce_to_target("long", 1.0, 100.0, 10.0, BTC, 100.0, bad)


# --- hedge ---------------------------------------------------------------------------------------------


@SETTINGS
@given(log_uniform(-3.0, 6.0), st.floats(0.0, 100.0), st.floats(0.0, 100.0))
def test_hedge_contracts_bounds(contracts: float, net: float, other_net: float) -> None:
    h = hedge_contracts(contracts, net)
    assert 0.0 <= h <= contracts
    assert h == pytest.approx(contracts * (1.0 - net / 100.0), rel=1e-12, abs=1e-15 * contracts)
    if net <= other_net:  # more exposure left unhedged -> a smaller hedge
        assert hedge_contracts(contracts, other_net) <= h


def test_hedge_contracts_ends_and_validation() -> None:
    assert hedge_contracts(3.0, 0.0) == 3.0  # fully hedged, never more than the position
    assert hedge_contracts(3.0, 100.0) == 0.0
    assert hedge_contracts(3.0, 50.0) == pytest.approx(1.5)
    for bad in (-0.1, 100.1):
        with pytest.raises(ValueError):
            hedge_contracts(3.0, bad)
