"""Assess 10,000 positions: tiered liquidation price, distance (% and sigma), escalation tier.

Run:  python -m benchmarks.bench_assess      Target: < 50 ms on one core.
"""

from __future__ import annotations

import time

from benchmarks.common import best_of, synthetic_positions
from bot.assess import AssessConfig, assess
from bot.risk import liquidation_price
from bot.risk.tables import table_for


def main() -> None:
    n = 10_000
    snapshot = synthetic_positions(n)
    cfg = AssessConfig(max_snapshot_age_s=1e9)
    now = time.time()
    best, median = best_of(lambda: assess(snapshot, cfg, now))
    risk = assess(snapshot, cfg, now)
    assert len(risk.positions) == n
    table = table_for("binance-usdm-2024-02", "BTC/USDT:USDT")
    args = [(p.side, p.contracts, p.entry_price, p.collateral, table) for p in snapshot.positions]
    lp_best, _ = best_of(lambda: [liquidation_price(*a) for a in args])
    print("benchmark                                   best      median   target")
    print(f"assess {n} positions (liq+distance+tier)  {best * 1e3:7.1f} ms {median * 1e3:7.1f} ms  < 50 ms")
    print(f"liquidation_price x {n} (tiered)          {lp_best * 1e3:7.1f} ms")
    print(f"per position                                {best / n * 1e6:7.2f} us")


if __name__ == "__main__":
    main()
