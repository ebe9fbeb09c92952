"""One engine cycle over 200 paper accounts x 10 positions (no network): snapshot, assess,
alerts, plan, guard, journal (real SQLite file), notify (a null notifier).

Run:  python -m benchmarks.bench_cycle       Target: < 100 ms for all 200 accounts.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bot.app import build_app
from bot.journal import Alert
from bot.settings import Settings


class NullNotifier:
    def __init__(self) -> None:
        self.count = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, alert: Alert) -> None:
        self.count += 1


def settings_for(n_accounts: int, n_positions: int, db: Path) -> Settings:
    coins = ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC", "BNB", "TRX"]
    positions = [
        {
            "symbol": f"{coins[i % len(coins)]}/USDT:USDT",
            "side": "long" if i % 3 else "short",
            "contracts": 1.0 + i,
            "entry_price": 100.0 * (i + 1),
            "margin_mode": "isolated",
            "leverage": 3,
        }
        for i in range(n_positions)
    ]
    accounts = [
        {
            "name": f"acct{a}",
            "exchange": "paper",
            "paper": {"positions": positions, "price_path": {"kind": "random_walk", "seed": a}},
        }
        for a in range(n_accounts)
    ]
    return Settings(
        database={"path": db}, health={"heartbeat_file": None}, guard={"kill_switch_file": None}, accounts=accounts
    )


async def run() -> None:
    n_accounts, n_positions = 200, 10
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(n_accounts, n_positions, Path(tmp) / "bench.db")
        clock_now = [time.time()]
        app = build_app(settings, notifier=NullNotifier(), clock=lambda: clock_now[0])
        engine = app.engine
        names = list(engine.accounts)
        for name in names:  # warm up: first observation of every position
            await engine.run_cycle(name)
        times = []
        for _ in range(5):
            clock_now[0] += settings.poll.interval_s
            t0 = time.perf_counter()
            for name in names:
                await engine.run_cycle(name)
            times.append(time.perf_counter() - t0)
        n_pos = sum(len(r.positions) for r in engine.latest.values())
        await app.close()
    best, worst = min(times), max(times)
    print("benchmark                                          best      worst    target")
    print(
        f"cycle {n_accounts} paper accounts x {n_positions} positions ({n_pos} total)  "
        f"{best * 1e3:6.1f} ms  {worst * 1e3:6.1f} ms  < 100 ms"
    )
    print(f"per account                                        {best / n_accounts * 1e3:6.3f} ms")


if __name__ == "__main__":
    asyncio.run(run())
