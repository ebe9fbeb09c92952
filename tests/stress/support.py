"""Helpers for the stress tests: synthetic bar series and settings with chosen rules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.risk.liquidation import liquidation_price
from bot.risk.tables import table_for
from bot.settings import RuleSettings, Settings, load_settings
from bot.stress.policies import POLICIES
from bot.stress.prices import Series
from bot.stress.replay import RunResult, replay
from bot.stress.scenario import TIER_TABLE, Scenario

START = 1_700_000_000.0  # bar open times are multiples of the interval from here
H = 3600.0
SYMBOL = "BTC/USDT:USDT"


def series(bars: Sequence[tuple[float, float, float, float]], *, interval: float = H,
           name: str = "synthetic") -> Series:
    """OHLC tuples -> a Series starting at START."""
    o, h, low, c = (tuple(x) for x in zip(*bars, strict=True))
    return Series(name=name, ts=tuple(START + i * interval for i in range(len(bars))), open=o, high=h, low=low, close=c,
                  interval_s=interval)


def flat(price: float) -> tuple[float, float, float, float]:
    return (price, price, price, price)


def long_10x_liq(entry: float = 100.0, notional: float = 10_000.0) -> float:
    """Liquidation price of the default test position (long 10x, isolated, BTC tiers)."""
    q = notional / entry
    lp = liquidation_price("long", q, entry, notional / 10.0, table_for(TIER_TABLE, SYMBOL))
    assert lp is not None
    return lp


def settings(rules: list[dict[str, Any]] | None = None, **guard: Any) -> Settings:
    """The embedded default configuration, optionally with other rules and guard values."""
    base = load_settings(None)
    update: dict[str, Any] = {}
    if rules is not None:
        update["rules"] = [RuleSettings(**r) for r in rules]
    if guard:
        update["guard"] = base.guard.model_copy(update=guard)
    return base.model_copy(update=update)


def scenario(**kw: Any) -> Scenario:
    values: dict[str, Any] = {"symbol": SYMBOL, "side": "long", "leverage": 10.0, "notional": 10_000.0,
                              "wallet": 10_000.0, "spot": 0.0, "delay_bars": 1}
    values.update(kw)
    return Scenario(**values)


def run(s: Series, sc: Scenario, st: Settings | None = None, policies: tuple[str, ...] = POLICIES,
        **kw: Any) -> RunResult:
    return asyncio.run(replay(s, sc, st or settings(), policies=policies, **kw))
