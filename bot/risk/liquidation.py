"""Liquidation prices: the price at which margin balance equals maintenance margin.

Every venue we support liquidates a one-way position when, at the mark price P,

    wallet + other_unrealized_pnl - other_maintenance + pnl(P) = maintenance_margin(notional(P))

with ``maintenance_margin(N) = N * rate_k - amount_k`` and the tier k chosen at the notional
*at the liquidation price* (Binance FAQ), not at entry and not by margin.

Linear contracts (USDT-M): Q = contracts * contract_size in base units, notional N = Q * P,
pnl = s * Q * (P - E). Inverse contracts (COIN-M): Q = contracts * contract_size in quote
units (USD), notional in the settlement coin N = Q / P, pnl = s * Q * (1/E - 1/P), and wallet,
maintenance amounts and the other-position terms are in the coin too. s is +1 long, -1 short.

Both cases reduce to one equation linear in N inside a tier:

    f(N) = A + amount_k - N * (rate_k + b) = 0

    linear:  A = K - s*Q*E,  b = -s        inverse: A = K + s*Q/E,  b = s
    K = wallet + other_unrealized_pnl - other_maintenance

f is monotonic in N (increasing when b = -1, decreasing when b = +1), so walking the tiers
from the one at entry finds the unique root of a consistent table in a step or two; for an
inconsistent table (amounts that make the maintenance margin jump) the liquidation happens at
the tier boundary where f jumps over zero, and that boundary is returned.

Floats, not Decimal: the inputs arrive from ccxt as floats, the maths is a handful of
operations (relative error ~1e-15, far below any tick size), and it runs for thousands of
positions per cycle. Amounts sent to an exchange are rounded at the edge, in the adapter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from bot.risk.tiers import Tier, TierTable, as_table

_INF = math.inf


def _sign(side: str) -> int:
    if side == "long":
        return 1
    if side == "short":
        return -1
    raise ValueError(f"side must be 'long' or 'short', got {side!r}")


def _root_notional(table: TierTable, a: float, b: float, start_notional: float) -> float:
    """Solve f(N) = a + amount_k - N * (rate_k + b) = 0 over the piecewise table (see module doc).

    Returns the notional where liquidation happens; may be <= 0, which callers interpret."""
    mins, rates, amounts = table.mins, table.rates, table.amounts
    n = len(rates)
    k = table.index_at(start_notional)
    direction = 0
    while True:
        root = (a + amounts[k]) / (rates[k] + b)
        lo = mins[k] if k > 0 else -_INF
        hi = mins[k + 1] if k + 1 < n else _INF
        if root < lo:
            if direction == 1:  # came up from below: f jumps over zero at this boundary
                return lo
            direction = -1
            k -= 1
        elif root >= hi:
            if direction == -1:
                return hi
            direction = 1
            k += 1
        else:
            return root


def liquidation_price(
    side: str,
    contracts: float,
    entry_price: float,
    wallet_balance: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    *,
    contract_size: float = 1,
    inverse: bool = False,
    other_maintenance: float = 0,
    other_unrealized_pnl: float = 0,
) -> float | None:
    """Liquidation (bankruptcy-of-maintenance) price of a one-way position.

    side: "long" or "short". contracts: position size in contracts (> 0).
    entry_price: average entry price. wallet_balance: the collateral behind the position, i.e.
    the isolated margin (isolated) or the cross wallet balance (cross), in quote currency for
    linear contracts and in the settlement coin for inverse ones.
    tiers: maintenance tiers ``Tier(min_notional, max_notional, maintenance_margin_rate,
    maintenance_amount)``; any order, validated here (pass a ``TierTable`` to skip that).
    contract_size: base units per contract (linear) or quote units per contract (inverse).
    other_maintenance / other_unrealized_pnl: cross margin only; the maintenance margin and
    unrealised PnL of the account's *other* positions (Binance TMM1 / UPNL1), signed as PnL
    (a losing short elsewhere is negative).

    Returns the price, or None when no liquidation is possible (a long, or an inverse short,
    whose collateral covers any fall/rise). A position that is liquidatable at any price
    returns 0.0 (linear short) or ``math.inf`` (inverse long).
    """
    s = _sign(side)
    q = float(contracts) * float(contract_size)
    if q <= 0.0:
        if q < 0.0:
            raise ValueError("contracts and contract_size must be positive")
        return None
    e = float(entry_price)
    if not e > 0.0:
        raise ValueError("entry_price must be positive")
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    k_bal = float(wallet_balance) + float(other_unrealized_pnl) - float(other_maintenance)
    if inverse:
        b = s
        n = _root_notional(table, k_bal + s * q / e, b, q / e)
        if n <= 0.0:
            return None if b == -1 else _INF
        return q / n
    b = -s
    n = _root_notional(table, k_bal - s * q * e, b, q * e)
    if n <= 0.0:
        return None if b == -1 else 0.0
    return n / q


def margin_balance(
    side: str,
    contracts: float,
    entry_price: float,
    mark_price: float,
    wallet_balance: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
) -> float:
    """Wallet plus unrealised PnL of this position at ``mark_price``."""
    return wallet_balance + unrealized_pnl(
        side, contracts, entry_price, mark_price, contract_size=contract_size, inverse=inverse
    )


def unrealized_pnl(
    side: str,
    contracts: float,
    entry_price: float,
    mark_price: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
) -> float:
    s = _sign(side)
    q = contracts * contract_size
    if inverse:
        return s * q * (1.0 / entry_price - 1.0 / mark_price)
    return s * q * (mark_price - entry_price)


def notional(contracts: float, price: float, *, contract_size: float = 1, inverse: bool = False) -> float:
    q = contracts * contract_size
    return q / price if inverse else q * price


def maintenance_margin_at(
    contracts: float,
    price: float,
    tiers: Sequence[Tier] | Iterable[Sequence[float]],
    *,
    contract_size: float = 1,
    inverse: bool = False,
) -> float:
    table = tiers if isinstance(tiers, TierTable) else as_table(tiers)
    return table.maintenance_margin(notional(contracts, price, contract_size=contract_size, inverse=inverse))


def margin_ratio(maintenance_margin: float, margin_balance: float) -> float:
    """Binance-style margin ratio: maintenance margin / margin balance. 1.0 (100 %) liquidates.

    A late signal: at a 0.4 % maintenance rate, 50 % margin ratio is only ~0.4 % of price away.
    Non-positive margin balance returns ``math.inf`` (already past liquidation)."""
    if margin_balance <= 0.0:
        return _INF
    return maintenance_margin / margin_balance


def liquidation_price_fixed_maintenance(
    side: str,
    contracts: float,
    entry_price: float,
    position_balance: float,
    maintenance_margin: float,
    *,
    contract_size: float = 1,
    inverse: bool = False,
) -> float | None:
    """Liquidation price when the venue fixes the maintenance margin at entry (Bybit isolated:
    ``LP = entry - s * (position margin - maintenance margin) / size``; Bybit reports
    ``positionBalance`` and ``positionMM`` for exactly this). Same return conventions as
    ``liquidation_price``."""
    s = _sign(side)
    q = contracts * contract_size
    if q <= 0.0:
        return None
    buffer = position_balance - maintenance_margin
    if inverse:
        # s*Q*(1/E - 1/P) = -buffer  ->  1/P = 1/E + s*buffer/Q
        x = 1.0 / entry_price + s * buffer / q
        if x <= 0.0:
            return None if s == -1 else _INF
        return 1.0 / x
    p = entry_price - s * buffer / q
    if p <= 0.0:
        return None if s == 1 else 0.0
    return p


class Leg(NamedTuple):
    """One side of a symbol in hedge mode (or a one-way position): the legs of one symbol move
    with the same mark, so Binance's cross formula solves them together."""

    side: str
    contracts: float
    entry_price: float
    tiers: TierTable
    contract_size: float = 1.0


def liquidation_prices_legs(
    legs: Sequence[Leg],
    wallet_balance: float,
    mark_price: float,
    *,
    inverse: bool = False,
    other_maintenance: float = 0.0,
    other_unrealized_pnl: float = 0.0,
) -> tuple[float | None, float | None]:
    """Nearest liquidation price below and above the mark for legs of one symbol sharing one
    margin pool (cross margin, hedge mode: a long leg and its hedging short leg).

    Works in u = P (linear) or u = 1/P (inverse), where margin balance minus maintenance is
    piecewise linear with breaks at the tier boundaries of each leg; scans the pieces outward
    from the mark. Returns (below, above); None on a side where no liquidation is possible.
    If the account is already at or past maintenance at the mark, both are the mark.
    """
    k_bal = wallet_balance + other_unrealized_pnl - other_maintenance
    parts = [(_sign(leg.side), leg.contracts * leg.contract_size, leg.entry_price, leg.tiers) for leg in legs]
    parts = [p for p in parts if p[1] > 0.0]
    if not parts:
        return None, None

    def line(u_inside: float) -> tuple[float, float]:
        """(intercept, slope) of f(u) with every leg's tier fixed at u_inside."""
        intercept, slope = k_bal, 0.0
        for s, q, e, table in parts:
            k = table.index_at(q * u_inside)
            intercept += table.amounts[k]
            if inverse:
                intercept += s * q / e
                slope -= s * q + q * table.rates[k]
            else:
                intercept -= s * q * e
                slope += s * q - q * table.rates[k]
        return intercept, slope

    u0 = 1.0 / mark_price if inverse else mark_price
    c0, m0 = line(u0)
    if c0 + m0 * u0 <= 0.0:
        return mark_price, mark_price
    breaks = sorted({mn / q for _, q, _, table in parts for mn in table.mins[1:] if mn > 0.0})

    def scan(upward: bool) -> float | None:
        edges = [b for b in breaks if b > u0] if upward else [b for b in reversed(breaks) if b < u0]
        edges.append(_INF if upward else 0.0)
        near = u0
        for far in edges:
            inside = (near + far) / 2.0 if math.isfinite(far) else near * 2.0 + 1.0
            c, m = line(inside)
            if c + m * near <= 0.0:  # f jumps over zero at this boundary
                return near
            f_far = c + m * far if math.isfinite(far) else (-_INF if m < 0 else _INF)
            if f_far <= 0.0:
                root = -c / m if m != 0.0 else far
                # Reaching zero only at u = 0 (price 0 for linear, infinite price for inverse)
                # means the collateral covers the whole move: no liquidation on this side.
                return None if not upward and root <= 0.0 else root
            near = far
        return None

    up, down = scan(True), scan(False)

    def price(u: float | None) -> float | None:
        if u is None:
            return None
        if inverse:
            return _INF if u == 0.0 else 1.0 / u
        return u

    if inverse:  # u up is price down
        return price(up), price(down)
    return price(down), price(up)
