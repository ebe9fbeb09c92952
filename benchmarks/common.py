"""Helpers shared by the benchmarks: deterministic synthetic accounts and a timer."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from bot.domain import AccountSnapshot, Position
from bot.risk.tables import table_for

TABLE = "binance-usdm-2024-02"


def synthetic_positions(n: int, seed: int = 1, account: str = "bench") -> AccountSnapshot:
    rng = random.Random(seed)
    positions = []
    for i in range(n):
        symbol = "BTC/USDT:USDT" if i % 2 == 0 else "ETH/USDT:USDT"
        base = 60000.0 if i % 2 == 0 else 3000.0
        entry = base * rng.uniform(0.8, 1.2)
        mark = entry * rng.uniform(0.85, 1.15)
        side = "long" if rng.random() < 0.5 else "short"
        leverage = rng.choice([2, 3, 5, 10, 20])
        contracts = rng.uniform(0.01, 50.0) * (1.0 if i % 2 == 0 else 20.0)
        positions.append(
            Position(
                symbol=f"{symbol}#{i}" if False else symbol,
                side=side,  # type: ignore[arg-type]
                contracts=contracts,
                entry_price=entry,
                mark_price=mark,
                margin_mode="isolated",
                tiers=table_for(TABLE, symbol),
                collateral=contracts * entry / leverage,
                position_side="both",
                liquidation_price_reported=None,
            )
        )
    return AccountSnapshot(account=account, exchange="bench", fetched_at=time.time(), positions=tuple(positions))


def best_of(fn: Callable[[], object], repeat: int = 7) -> tuple[float, float]:
    """(best, median) wall time in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)
