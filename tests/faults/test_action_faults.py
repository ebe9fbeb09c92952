"""Faults the other suites leave out, per venue, through the engine against the fake exchange:
a snapshot call that never answers in time, and a live top-up the venue refuses because the
money left the wallet between the poll and the call (InsufficientFunds). Each must end as the
documented behaviour: back off and carry on; journal the action failed (not unknown), tell the
trader loudly, never spin, and open the circuit breaker after repeated refusals."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from tests.integration.exchange_support import (
    BTC,
    MARGIN,
    ONE_BTC,
    POSITIONS,
    TOP_UP,
    VENUES,
    cycle_at,
    live_app,
    market_for,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("venue", VENUES)
async def test_a_snapshot_that_times_out_backs_off_and_the_next_poll_recovers(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP, request_timeout_s=0.5) as (server, app):
        assert (await cycle_at(app, market, 60_000)).error is None
        server.faults.arm(POSITIONS[venue], "delay", seconds=2.0)
        result = await cycle_at(app, market, 51_000)  # danger, but the data never came
        assert result.error is not None and result.error.startswith("Transient: "), result.error
        assert result.actions == [] and market.actions_of("margin") == []
        assert "acct" in app.engine.backoff_until  # this account waits; the scheduler goes on
        app.engine.backoff_until.clear()
        result = await cycle_at(app, market, 51_000)
        assert result.error is None and [a.kind for a in result.actions] == ["top_up"]
        assert result.actions[0].status == "done"


@pytest.mark.parametrize("venue", VENUES)
async def test_a_refused_top_up_is_journalled_failed_reported_and_trips_the_breaker(tmp_path: Path, venue: str) -> None:
    market = market_for(venue, spot=0.0, funding=0.0)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    rules = [{**TOP_UP[1], "source": ["futures"]}]
    guard = {"max_consecutive_failures": 2}
    async with live_app(tmp_path, market, venue, rules=rules, guard=guard) as (server, app):
        await cycle_at(app, market, 60_000)
        route = next(
            r for (method, path), r in server.venue.routes.items()
            if method == "POST" and fnmatch.fnmatchcase(path, MARGIN[venue])
        )  # fmt: skip
        real = route.handler

        def drained_then_real(req: Any) -> Any:
            # the trader moved the money out after our poll: the venue refuses the add-margin
            market.wallets["futures"]["USDT"] = 0.0
            return real(req)

        route.handler = drained_then_real
        rows = []
        for _ in range(2):
            market.wallets["futures"]["USDT"] = 10_000.0  # the next poll sees money again
            result = await cycle_at(app, market, 51_000)
            assert result.error is None
            (row,) = result.actions
            assert row.kind == "top_up" and row.status == "failed" and row.error_kind == "rejected", row.error
            rows.append(row)
        assert market.actions_of("margin") and not any(a.applied for a in market.actions_of("margin"))
        reports = [a.text for a in app.store.alerts(limit=50) if a.kind == "action"]
        assert sum("FAILED" in t for t in reports) == 2
        # two refusals in a row: the breaker is open, nothing more is sent until /resume
        market.wallets["futures"]["USDT"] = 10_000.0
        sent = len(server.requests.matching(MARGIN[venue], "POST"))
        result = await cycle_at(app, market, 51_000)
        assert result.actions == [] and any(v.code == "breaker" for v in result.refused)
        assert len(server.requests.matching(MARGIN[venue], "POST")) == sent
        assert {r.status for r in app.store.actions(account="acct")} == {"failed"}
