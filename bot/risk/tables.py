"""Bundled maintenance tier tables (for the paper exchange and stress replays only: live
accounts always use the venue's current tiers)."""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources

from bot.risk.tiers import Tier, TierTable

BUNDLED = ("binance-usdm-2024-02",)


@cache
def bundled(name: str) -> dict[str, TierTable]:
    if name not in BUNDLED:
        raise KeyError(f"unknown bundled tier table {name!r}; available: {', '.join(BUNDLED)}")
    raw = json.loads(resources.files("bot.risk").joinpath(f"data/{name}.json").read_text(encoding="utf-8"))
    return {
        sym: TierTable(Tier(lo, hi, rate, amount) for lo, hi, rate, amount, *_ in rows)
        for sym, rows in raw["tables"].items()
    }


@cache
def max_leverage(name: str, symbol: str) -> list[tuple[float, float]]:
    """(min_notional, max_leverage) rows of a bundled table, for initial-margin checks."""
    raw = json.loads(resources.files("bot.risk").joinpath(f"data/{name}.json").read_text(encoding="utf-8"))
    return [(row[0], row[4]) for row in raw["tables"].get(symbol, [])]


def generic() -> TierTable:
    """Fallback for symbols a bundled table lacks: a conservative altcoin-like ladder whose
    maintenance amounts follow the continuity recursion."""
    rows = [
        (0.0, 10_000.0, 0.01),
        (10_000.0, 100_000.0, 0.025),
        (100_000.0, 1_000_000.0, 0.05),
        (1_000_000.0, math.inf, 0.1),
    ]
    tiers = []
    amount, prev_rate = 0.0, 0.0
    for lo, hi, rate in rows:
        amount += lo * (rate - prev_rate)
        tiers.append(Tier(lo, hi, rate, amount))
        prev_rate = rate
    return TierTable(tiers)


def table_for(name: str, symbol: str) -> TierTable:
    tables = bundled(name)
    return tables.get(symbol) or generic()
