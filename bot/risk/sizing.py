"""Closed-form sizing: how much collateral, or how many fewer contracts, put the liquidation
price at a target distance from the mark.

Both solve the liquidation equation (see ``bot.risk.liquidation``) *at the target price*, with
the maintenance tier chosen at the notional there, so recomputing the liquidation price after
the action lands on the target (the property tests prove it).

Reduce model ("margin balance stays"): closing part of a position realises its PnL into the
wallet and the whole margin balance keeps backing what is left. That is how cross margin
behaves. Isolated venues release margin pro rata on a partial close, which leaves the
liquidation price where it was; the deleverage strategy therefore re-adds the released margin
(``retain_margin``) so the same model holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.risk.liquidation import _root_notional, _sign
from bot.risk.tiers import Tier, TierTable, as_table


def target_liquidation_price(side: str, mark_price: float, target_distance_pct: float) -> float:
    return mark_price * (1.0 - _sign(side) * target_distance_pct / 100.0)


def collateral_to_liquidation_price(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    target_liquidation_price: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
    other_maintenance: float = 0,
    other_unrealized_pnl: float = 0,
) -> float:
    """Collateral to add (wallet currency) so the liquidation price moves to the given price
    (or further away). 0 when it already is at least that far."""
    s = _sign(side)
    if not target_liquidation_price > 0.0:
        raise ValueError("target_liquidation_price must be positive")
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    q = contracts * contract_size
    if q <= 0.0:
        return 0.0
    lp = target_liquidation_price
    if inverse:
        n = q / lp
        k = table.index_at(n)
        k_req = n * (table.rates[k] + s) - s * q / entry_price - table.amounts[k]
    else:
        n = q * lp
        k = table.index_at(n)
        k_req = n * (table.rates[k] - s) + s * q * entry_price - table.amounts[k]
    wallet_required = k_req - other_unrealized_pnl + other_maintenance
    return max(0.0, wallet_required - wallet_balance)


def collateral_to_target(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    mark_price: float,
    target_distance_pct: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
    other_maintenance: float = 0,
    other_unrealized_pnl: float = 0,
) -> float:
    """Collateral to add (wallet currency) so the liquidation price sits
    ``target_distance_pct`` percent of mark away. 0 when it already does."""
    if not 0.0 < target_distance_pct < 100.0:
        raise ValueError("target_distance_pct must be in (0, 100)")
    return collateral_to_liquidation_price(
        side,
        contracts,
        entry_price,
        wallet_balance,
        tiers,
        target_liquidation_price(side, mark_price, target_distance_pct),
        contract_size=contract_size,
        inverse=inverse,
        other_maintenance=other_maintenance,
        other_unrealized_pnl=other_unrealized_pnl,
    )


def contracts_after_reduce_to_target(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    mark_price: float,
    target_distance_pct: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
    other_maintenance: float = 0,
    other_unrealized_pnl: float = 0,
    taker_fee: float = 0,
) -> float:
    """Largest position (in contracts) whose liquidation price is at least the target distance
    away, if the margin balance stays behind it. 0 means close everything.

    ``taker_fee`` (a rate) is paid on the closed notional at the mark out of the same margin
    balance; it is part of the closed form, so the fee does not make the result miss."""
    s = _sign(side)
    if not 0.0 < target_distance_pct < 100.0:
        raise ValueError("target_distance_pct must be in (0, 100)")
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    q = contracts * contract_size
    if q <= 0.0:
        return 0.0
    d = target_distance_pct / 100.0
    lp = target_liquidation_price(side, mark_price, target_distance_pct)
    k_bal = wallet_balance + other_unrealized_pnl - other_maintenance
    # Fee on the closed part, phi * (q - q') * (notional per unit at the mark), comes out of the
    # balance: it lowers the constant by phi*q*unit and adds phi*unit per unit kept, which in
    # the notional variable at the target price is a shift of b by -phi*unit/unit_at_target.
    if inverse:
        balance = k_bal + s * q * (1.0 / entry_price - 1.0 / mark_price) - taker_fee * q / mark_price
        b = d - taker_fee * lp / mark_price
        n = _root_notional(table, balance, b, q / lp)
        q_after = n * lp
    else:
        balance = k_bal + s * q * (mark_price - entry_price) - taker_fee * q * mark_price
        b = d / (1.0 - s * d) - taker_fee * mark_price / lp
        n = _root_notional(table, balance, b, q * lp)
        q_after = n / lp
    if q_after <= 0.0:
        return 0.0
    return min(contracts, q_after / contract_size)


def contracts_to_reduce_to_target(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    mark_price: float,
    target_distance_pct: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
    other_maintenance: float = 0,
    other_unrealized_pnl: float = 0,
    taker_fee: float = 0,
) -> float:
    """Contracts to close (reduce-only) to reach the target distance; never more than held."""
    after = contracts_after_reduce_to_target(
        side,
        contracts,
        entry_price,
        wallet_balance,
        tiers,
        mark_price,
        target_distance_pct,
        contract_size=contract_size,
        inverse=inverse,
        other_maintenance=other_maintenance,
        other_unrealized_pnl=other_unrealized_pnl,
        taker_fee=taker_fee,
    )
    return max(0.0, contracts - after)


def hedge_contracts(contracts: float, target_net_exposure_pct: float) -> float:
    """Size of the opposite leg that leaves ``target_net_exposure_pct`` percent of the position's
    exposure unhedged (0 = fully hedged). Never larger than the position: a hedge must not flip
    the net exposure."""
    if not 0.0 <= target_net_exposure_pct <= 100.0:
        raise ValueError("target_net_exposure_pct must be in [0, 100]")
    return contracts * (1.0 - target_net_exposure_pct / 100.0)


# -- venues that fix the maintenance margin at entry (Bybit isolated) ------------------------------
#
# There LP = E - s * (W - MM_entry) / Q (linear) or 1/LP = 1/E + s * (W - MM_entry) / Q (inverse),
# with MM_entry the tiered maintenance at the *entry* notional. The same two questions have
# closed forms in that model; the strategies pick the model the position is assessed with.


def _entry_mm(table: TierTable, q: float, entry_price: float, inverse: bool) -> float:
    return table.maintenance_margin(q / entry_price if inverse else q * entry_price)


def collateral_to_target_entry_fixed(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    mark_price: float,
    target_distance_pct: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
) -> float:
    """``collateral_to_target`` for venues that fix maintenance at entry."""
    s = _sign(side)
    if not 0.0 < target_distance_pct < 100.0:
        raise ValueError("target_distance_pct must be in (0, 100)")
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    q = contracts * contract_size
    if q <= 0.0:
        return 0.0
    lp = target_liquidation_price(side, mark_price, target_distance_pct)
    mm = _entry_mm(table, q, entry_price, inverse)
    required = mm + s * q * (1.0 / lp - 1.0 / entry_price) if inverse else mm + s * q * (entry_price - lp)
    return max(0.0, required - wallet_balance)


def contracts_after_reduce_entry_fixed(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    mark_price: float,
    target_distance_pct: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
    taker_fee: float = 0,
) -> float:
    """``contracts_after_reduce_to_target`` for venues that fix maintenance at entry (the margin
    balance stays behind the remaining position; the fee on the closed part comes out of it)."""
    s = _sign(side)
    if not 0.0 < target_distance_pct < 100.0:
        raise ValueError("target_distance_pct must be in (0, 100)")
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    q = contracts * contract_size
    if q <= 0.0:
        return 0.0
    p, e = mark_price, entry_price
    lp = target_liquidation_price(side, p, target_distance_pct)
    # Solve  balance + amount_k = Q' * (per-unit requirement)  in the entry notional N' (see module doc).
    if inverse:
        balance = wallet_balance + s * q * (1.0 / e - 1.0 / p) - taker_fee * q / p
        b = e * (s * (1.0 / lp - 1.0 / p) - taker_fee / p)
        n = _root_notional(table, balance, b, q / e)
        q_after = n * e
    else:
        balance = wallet_balance + s * q * (p - e) - taker_fee * q * p
        b = (s * (p - lp) - taker_fee * p) / e
        n = _root_notional(table, balance, b, q * e)
        q_after = n / e
    if q_after <= 0.0:
        return 0.0
    return min(contracts, q_after / contract_size)
