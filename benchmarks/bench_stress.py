"""Stress replay speed: every bundled episode x asset x policy at 1h, and one 7,200-bar 1m series
(five days, synthetic: a seeded random walk with a crash in it) through marginguard's engine.

Run:  python -m benchmarks.bench_stress [--profile]
Targets: 8 episodes x 2 assets x 4 policies at 1h < 10 s; 7,200 1m bars, one policy < 5 s.
``--profile`` adds where the 1m engine replay spends its time (journal vs engine vs replay).
"""

from __future__ import annotations

import asyncio
import cProfile
import math
import pstats
import random
import sys
import time
from typing import Any

from bot.settings import load_settings
from bot.stress import episodes
from bot.stress.policies import MARGINGUARD, POLICIES
from bot.stress.prices import Series
from bot.stress.replay import Journals, replay, replay_policy
from bot.stress.scenario import Scenario


def synthetic_1m(n: int = 7200, seed: int = 11, start: float = 1_700_000_000.0) -> Series:
    """Five days of 1m bars: 60 % annualised noise, a 25 % slide over 3 hours on day 3, a rebound."""
    rng = random.Random(seed)
    sigma = 0.6 * math.sqrt(60 / (365 * 86400))
    price = 30_000.0
    o, h, lo, c = [], [], [], []
    for i in range(n):
        drift = -0.25 / 180 if 3000 <= i < 3180 else (0.10 / 600 if 3180 <= i < 3780 else 0.0)
        close = price * math.exp(drift + rng.gauss(0.0, sigma))
        wick = abs(rng.gauss(0.0, sigma))
        o.append(price)
        c.append(close)
        h.append(max(price, close) * (1 + wick))
        lo.append(min(price, close) * (1 - wick))
        price = close
    return Series(name="synthetic-1m", ts=tuple(start + 60.0 * i for i in range(n)), open=tuple(o), high=tuple(h),
                  low=tuple(lo), close=tuple(c), interval_s=60.0)


def scenario(asset: str) -> Scenario:
    return Scenario(symbol=episodes.symbol_for(asset), side="long", leverage=10.0, notional=10_000.0, wallet=10_000.0)


async def all_episodes() -> tuple[float, dict[str, float], int]:
    settings = load_settings(None)
    per_policy = dict.fromkeys(POLICIES, 0.0)
    bars = 0
    t0 = time.perf_counter()
    with Journals() as journals:
        for e in episodes.episodes():
            for asset in episodes.ASSETS:
                s = episodes.load(e.id, asset)
                bars += len(s) * len(POLICIES)
                for policy in POLICIES:
                    t = time.perf_counter()
                    await replay_policy(s, scenario(asset), settings, None, policy, journals)
                    per_policy[policy] += time.perf_counter() - t
    return time.perf_counter() - t0, per_policy, bars


async def one_minute(policy: str = MARGINGUARD) -> tuple[float, int, int]:
    s = synthetic_1m()
    t0 = time.perf_counter()
    result = await replay(s, scenario("BTC"), load_settings(None), policies=(policy,))
    elapsed = time.perf_counter() - t0
    actions = result.outcomes[policy].actions
    return elapsed, len(s), actions


def main() -> None:
    episodes.load("ftx-2022", "BTC")  # warm the data and import caches
    best_all, per_policy, bars = min((asyncio.run(all_episodes()) for _ in range(3)), key=lambda r: r[0])
    best_1m, n, actions = min((asyncio.run(one_minute()) for _ in range(3)), key=lambda r: r[0])
    print("benchmark                                              best      target")
    print(f"8 episodes x 2 assets x 4 policies, 1h ({bars:,} policy-bars)   {best_all:6.2f} s   < 10 s")
    for policy, seconds in per_policy.items():
        print(f"  of which {policy:16}                            {seconds:6.2f} s")
    print(f"1m series, {n:,} bars, marginguard only ({actions} actions)        {best_1m:6.2f} s   < 5 s")
    print(f"  per bar (engine cycle + bar checks)                    {best_1m / n * 1e3:6.3f} ms")
    if "--profile" in sys.argv:
        profile_one_minute()


GROUPS = (  # self time by where the code lives (first match wins)
    ("journal: bot/store.py + SQLAlchemy + sqlite3", ("bot/store.py", "sqlalchemy", "sqlite3", "alembic")),
    ("engine, guard, strategies, alerts", ("bot/engine.py", "bot/guard.py", "strategies/", "bot/alerts.py",
                                           "bot/executor.py", "bot/projection.py", "bot/messages.py")),
    ("assess + risk maths", ("bot/assess.py", "bot/risk/")),
    ("paper exchange", ("bot/exchanges/",)),
    ("replay loop (bot/stress)", ("bot/stress/",)),
    ("asyncio", ("asyncio",)),
)


async def marginguard_episodes() -> None:
    settings = load_settings(None)
    with Journals() as journals:
        for e in episodes.episodes():
            for asset in episodes.ASSETS:
                await replay_policy(episodes.load(e.id, asset), scenario(asset), settings, None, MARGINGUARD, journals)


def profile_one_minute() -> None:
    for title, job in (("16 bundled 1h episodes, marginguard only", marginguard_episodes),
                       ("the 7,200-bar 1m series, marginguard only", one_minute)):
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(job())
        profile.disable()
        _print_groups(title, pstats.Stats(profile).stats)  # type: ignore[attr-defined,unused-ignore]


def _print_groups(title: str, raw: dict[Any, Any]) -> None:
    totals = {label: 0.0 for label, _ in GROUPS} | {"other": 0.0}
    for (filename, _line, name), (_cc, _nc, tottime, _cum, _callers) in raw.items():
        where = filename + name  # C functions have filename "~" and say whose method they are
        label = next((lab for lab, needles in GROUPS if any(n in where for n in needles)), "other")
        totals[label] += tottime
    whole = sum(totals.values())
    print(f"\nwhere the time goes: {title} (self time under cProfile):")
    for label, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {label:48} {seconds:6.2f} s  {seconds / whole:5.1%}")


if __name__ == "__main__":
    main()
