"""Maintenance-margin tiers (Binance "brackets", Bybit "risk limits", OKX "position tiers").

A tier says: for a position whose notional N lies in [min_notional, max_notional), the
maintenance margin is ``N * maintenance_margin_rate - maintenance_amount``. The maintenance
amount (Binance ``cum``, Bybit ``mmDeduction``) makes that function continuous across tier
boundaries when the table is consistent:

    amount_k = amount_{k-1} + min_notional_k * (rate_k - rate_{k-1})

Notionals and amounts are in the quote currency for linear contracts and in the settlement
coin for inverse ones.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple, overload


class Tier(NamedTuple):
    """One maintenance-margin tier. Stable public type: outside checks construct it positionally."""

    min_notional: float
    max_notional: float
    maintenance_margin_rate: float
    maintenance_amount: float = 0.0


class TierTable(Sequence[Tier]):
    """A validated tier table sorted by ``min_notional``, with its columns unpacked for speed.

    Building one is the only place tiers are checked, so the hot path (``liquidation_price``
    over thousands of positions) can skip re-checking. Tier k covers notionals from its own
    ``min_notional`` up to the next tier's ``min_notional``; the first tier also covers
    everything below, the last everything above (an exchange would refuse such a size, but the
    maths must still answer)."""

    __slots__ = ("amounts", "mins", "rates", "tiers")

    def __init__(self, tiers: Iterable[Tier | Sequence[float]]) -> None:
        rows = tuple(sorted((_as_tier(t) for t in tiers), key=lambda t: t.min_notional))
        if not rows:
            raise ValueError("a tier table needs at least one tier")
        for t in rows:
            if not (0.0 <= t.maintenance_margin_rate < 1.0):
                raise ValueError(f"maintenance_margin_rate must be in [0, 1): {t}")
            if not t.max_notional > t.min_notional:
                raise ValueError(f"max_notional must exceed min_notional: {t}")
            if not (math.isfinite(t.maintenance_amount) and math.isfinite(t.min_notional)):
                raise ValueError(f"tier values must be finite: {t}")
        self.tiers: tuple[Tier, ...] = rows
        self.mins: tuple[float, ...] = tuple(t.min_notional for t in rows)
        self.rates: tuple[float, ...] = tuple(t.maintenance_margin_rate for t in rows)
        self.amounts: tuple[float, ...] = tuple(t.maintenance_amount for t in rows)

    def __len__(self) -> int:
        return len(self.tiers)

    @overload
    def __getitem__(self, i: int) -> Tier: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Tier]: ...
    def __getitem__(self, i: int | slice) -> Tier | Sequence[Tier]:
        return self.tiers[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TierTable) and other.tiers == self.tiers

    def __hash__(self) -> int:
        return hash(self.tiers)

    def __repr__(self) -> str:
        return f"TierTable({list(self.tiers)!r})"

    def index_at(self, notional: float) -> int:
        return max(bisect_right(self.mins, notional) - 1, 0)

    def tier_at(self, notional: float) -> Tier:
        return self.tiers[self.index_at(notional)]

    def maintenance_margin(self, notional: float) -> float:
        k = self.index_at(notional)
        return notional * self.rates[k] - self.amounts[k]


def _as_tier(t: Tier | Sequence[float]) -> Tier:
    if isinstance(t, Tier):
        return t
    return Tier(*(float(x) for x in t))


def as_table(tiers: TierTable | Iterable[Tier | Sequence[float]]) -> TierTable:
    return tiers if isinstance(tiers, TierTable) else TierTable(tiers)


def tier_index(tiers: TierTable | Iterable[Tier | Sequence[float]], notional: float) -> int:
    return as_table(tiers).index_at(notional)


def maintenance_margin(tiers: TierTable | Iterable[Tier | Sequence[float]], notional: float) -> float:
    """Maintenance margin of a position with this notional: ``N * rate_k - amount_k``."""
    return as_table(tiers).maintenance_margin(notional)


def flat(rate: float, amount: float = 0.0) -> TierTable:
    """A single-tier table: one maintenance rate at every size (Hyperliquid, simple venues)."""
    return TierTable([Tier(0.0, math.inf, rate, amount)])


def consistent_amounts(tiers: TierTable | Iterable[Tier], tolerance: float = 1e-6) -> bool:
    """True when each tier's maintenance amount follows the continuity recursion."""
    rows = list(as_table(tiers))
    if abs(rows[0].maintenance_amount) > tolerance and rows[0].min_notional == 0.0:
        return False
    for prev, cur in pairwise(rows):
        expected = prev.maintenance_amount + cur.min_notional * (
            cur.maintenance_margin_rate - prev.maintenance_margin_rate
        )
        if abs(cur.maintenance_amount - expected) > tolerance * max(1.0, abs(expected)):
            return False
    return True


def from_ccxt(leverage_tiers: Iterable[dict[str, object]]) -> TierTable:
    """Build a table from ccxt's unified ``fetch_leverage_tiers`` rows.

    ccxt does not unify the maintenance amount, so it is derived from the continuity recursion
    when the venue's raw row does not carry it (Binance ``cum``, Bybit ``mmDeduction``)."""
    rows = sorted(leverage_tiers, key=lambda r: float(r.get("minNotional") or 0.0))  # type: ignore[arg-type]
    out: list[Tier] = []
    prev_rate = 0.0
    prev_amount = 0.0
    for row in rows:
        lo = float(row.get("minNotional") or 0.0)  # type: ignore[arg-type]
        hi_raw = row.get("maxNotional")
        hi = float(hi_raw) if hi_raw not in (None, "", 0) else math.inf  # type: ignore[arg-type]
        rate = float(row["maintenanceMarginRate"])  # type: ignore[arg-type]
        info = row.get("info") if isinstance(row.get("info"), dict) else {}
        raw_amount = None
        for key in ("cum", "mmDeduction", "maintenanceAmount"):
            if isinstance(info, dict) and info.get(key) not in (None, ""):
                raw_amount = float(info[key])
                break
        amount = raw_amount if raw_amount is not None else prev_amount + lo * (rate - prev_rate)
        out.append(Tier(lo, hi, rate, amount))
        prev_rate, prev_amount = rate, amount
    return TierTable(out)
