"""Maintenance-margin tier tables used by the fake exchange.

A :class:`TierTable` is venue-agnostic: each tier is a band of either position
notional (quote currency, Binance brackets / Bybit risk limits) or position size
in base currency (OKX position tiers are sized in contracts).  ``cum`` is the
maintenance amount deduction (Binance ``cum``, Bybit ``mmDeduction``); it is
derived automatically so the maintenance margin is continuous across tiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TierUnit = Literal["notional", "base"]


@dataclass(frozen=True)
class Tier:
    tier: int
    floor: float  # lower bound (inclusive) of notional or base size
    cap: float  # upper bound (exclusive)
    mmr: float  # maintenance margin rate
    max_leverage: float
    cum: float = 0.0  # maintenance amount (deduction)

    @property
    def imr(self) -> float:
        return 1.0 / self.max_leverage


@dataclass
class TierTable:
    unit: TierUnit
    tiers: list[Tier] = field(default_factory=list)

    @classmethod
    def build(cls, unit: TierUnit, rows: list[tuple[float, float, float, float]]) -> TierTable:
        """rows: (floor, cap, mmr, max_leverage); ``cum`` is derived for continuity."""
        tiers: list[Tier] = []
        cum = 0.0
        prev_mmr = 0.0
        for i, (floor, cap, mmr, lev) in enumerate(rows):
            if i > 0:
                cum += floor * (mmr - prev_mmr)
            tiers.append(Tier(i + 1, floor, cap, mmr, lev, round(cum, 8)))
            prev_mmr = mmr
        return cls(unit, tiers)

    def for_value(self, value: float) -> Tier:
        """Tier whose band contains ``value`` (notional or base size, per ``unit``)."""
        v = abs(value)
        for t in self.tiers:
            if v < t.cap:
                return t
        return self.tiers[-1]


# Binance USDⓈ-M BTCUSDT brackets (notional, mmr, max leverage); cum derived:
# 0-50k 0.4% cum 0, 50k-600k 0.5% cum 50, 600k-3M 0.65% cum 950, 3M-12M 1% cum 11450,
# 12M-70M 2% cum 131450, 70M-100M 2.5%, 100M-230M 5%, 230M-480M 10%, 480M-600M 12.5%,
# 600M-800M 15%, 800M-1.2B 25%, 1.2B-1.8B 50%.
BINANCE_BTC_ROWS: list[tuple[float, float, float, float]] = [
    (0, 50_000, 0.004, 125),
    (50_000, 600_000, 0.005, 100),
    (600_000, 3_000_000, 0.0065, 75),
    (3_000_000, 12_000_000, 0.01, 50),
    (12_000_000, 70_000_000, 0.02, 25),
    (70_000_000, 100_000_000, 0.025, 20),
    (100_000_000, 230_000_000, 0.05, 10),
    (230_000_000, 480_000_000, 0.1, 5),
    (480_000_000, 600_000_000, 0.125, 4),
    (600_000_000, 800_000_000, 0.15, 3),
    (800_000_000, 1_200_000_000, 0.25, 2),
    (1_200_000_000, 1_800_000_000, 0.5, 1),
]

BINANCE_ETH_ROWS: list[tuple[float, float, float, float]] = [
    (0, 50_000, 0.005, 125),
    (50_000, 600_000, 0.0065, 75),
    (600_000, 3_000_000, 0.01, 50),
    (3_000_000, 12_000_000, 0.02, 25),
    (12_000_000, 50_000_000, 0.025, 20),
    (50_000_000, 65_000_000, 0.05, 10),
    (65_000_000, 150_000_000, 0.1, 5),
    (150_000_000, 320_000_000, 0.125, 4),
    (320_000_000, 400_000_000, 0.15, 3),
    (400_000_000, 530_000_000, 0.25, 2),
    (530_000_000, 800_000_000, 0.5, 1),
]

# OKX position tiers are sized in contracts; expressed here in base currency
# (BTC-USDT-SWAP ctVal 0.01 BTC, ETH-USDT-SWAP ctVal 0.1 ETH).
OKX_BTC_ROWS: list[tuple[float, float, float, float]] = [
    (0, 20, 0.004, 100),
    (20, 60, 0.006, 75),
    (60, 150, 0.008, 50),
    (150, 300, 0.01, 40),
    (300, 600, 0.015, 25),
    (600, 1_000, 0.02, 20),
    (1_000, 2_000, 0.03, 10),
]

OKX_ETH_ROWS: list[tuple[float, float, float, float]] = [
    (0, 500, 0.005, 100),
    (500, 1_500, 0.008, 50),
    (1_500, 4_000, 0.01, 40),
    (4_000, 8_000, 0.015, 25),
    (8_000, 20_000, 0.02, 20),
    (20_000, 40_000, 0.03, 10),
]


def default_tiers(venue: str | None, base: str) -> TierTable:
    if venue == "okx":
        return TierTable.build("base", OKX_ETH_ROWS if base == "ETH" else OKX_BTC_ROWS)
    return TierTable.build("notional", BINANCE_ETH_ROWS if base == "ETH" else BINANCE_BTC_ROWS)
