"""Stress replays: real crash price paths against a position, on the paper exchange, with the
daemon's own engine, strategies and guard deciding for the ``marginguard`` policy.

    series = episodes.load("ftx-2022", "BTC")            # or prices.load_csv(path)
    run = await replay(series, Scenario(symbol="BTC/USDT:USDT", leverage=10), settings)
    report.report_json([run])

See ``docs/stress.md`` for the trader-facing description and ``replay`` for the bar semantics.
"""

from bot.stress.episodes import Episode
from bot.stress.policies import POLICIES
from bot.stress.prices import Series, load_csv
from bot.stress.replay import PolicyOutcome, RunResult, replay
from bot.stress.scenario import Scenario

__all__ = ["POLICIES", "Episode", "PolicyOutcome", "RunResult", "Scenario", "Series", "load_csv", "replay"]
