"""Money-moving calls whose outcome is not known: the venue applies the call, the reply never
arrives in time. The journal says unknown, new actions on the account are refused until the
next cycle's reconcile finds out (order by client id, margin history / bills, or the pre-state
the adapter kept), and nothing is sent twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.exchanges.ccxt_adapter import CcxtAdapter
from tests.integration.exchange_support import (
    BTC,
    MARGIN,
    ONE_BTC,
    ORDER,
    TOP_UP,
    VENUES,
    cycle_at,
    live_app,
    market_for,
    only_action,
)

pytestmark = pytest.mark.timeout(20)
# What reconcile reads to settle an add-margin: Binance's margin history, OKX's bills, and for
# Bybit (no reliable history) the position, compared with the wallet before the call.
HISTORY = {"binance": "/fapi/v1/positionMargin/history", "bybit": "/v5/position/list", "okx": "/api/v5/account/bills"}


@pytest.mark.parametrize("venue", VENUES)
async def test_add_margin_that_times_out_blocks_then_reconciles_without_repeat(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    guard = {"max_action_quote": 500}  # a capped top-up: more will be needed after the first
    async with live_app(tmp_path, market, venue, rules=TOP_UP, guard=guard, request_timeout_s=1.0) as (server, app):
        for price in (60_000, 55_000):
            await cycle_at(app, market, price)
        server.faults.arm(MARGIN[venue], "apply_then_timeout", seconds=2)
        result = await cycle_at(app, market, 51_000)
        (first,) = result.actions
        assert first.status == "unknown" and "may or may not" in (first.error or "")
        assert len(market.actions_of("margin")) == 1 and market.actions_of("margin")[0].applied
        # Next cycle: the venue cannot be asked yet (5xx), so the outcome stays open and the
        # top-up the position still needs is refused.
        server.faults.arm(HISTORY[venue], "http_5xx")
        result = await cycle_at(app, market, 51_000)
        assert result.actions == [] and any(v.code == "unknown_outcome" for v in result.refused)
        assert app.store.action_by_client_id(first.client_id).status == "unknown"  # type: ignore[union-attr]
        # Then reconcile settles it as done (history / bills / pre-state) and only then acts again.
        result = await cycle_at(app, market, 51_000)
        settled = app.store.action_by_client_id(first.client_id)
        assert settled is not None and settled.status == "done" and settled.filled == pytest.approx(500)
        assert json.loads(settled.details or "{}").get("reconciled") is True
        assert [a.kind for a in result.actions] == ["top_up"] and result.actions[0].status == "done"
        margins = market.actions_of("margin")
        assert len(margins) == 2 and len(server.requests.matching(MARGIN[venue], "POST")) == 2


@pytest.mark.parametrize("venue", VENUES)
async def test_order_that_times_out_is_found_by_client_id(tmp_path: Path, venue: str) -> None:
    market = market_for(venue, futures=7_000.0)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=10, margin_mode="cross")
    rules = [{"name": "deleverage", "strategy": "deleverage", "at": "critical", "target_distance_pct": 8}]
    async with live_app(tmp_path, market, venue, rules=rules, request_timeout_s=1.0) as (server, app):
        for price in (60_000, 57_000, 55_000):
            await cycle_at(app, market, price)
        server.faults.arm(ORDER[venue], "apply_then_timeout", seconds=2)
        result = await cycle_at(app, market, 54_500)
        (row,) = result.actions
        assert row.kind == "reduce" and row.status == "unknown"
        (order,) = market.actions_of("order")
        assert order.applied and order.params["client_order_id"] == row.client_id
        result = await cycle_at(app, market, 54_500)
        settled = only_action(app)
        assert settled.status == "done" and settled.filled == pytest.approx(order.params["contracts"])
        assert settled.exchange_ref is not None
        assert len(market.actions_of("order")) == 1  # reconciled, not repeated
        assert result.risk is not None and result.risk.positions[0].distance_pct >= 8.0 - 1e-6


async def test_order_that_never_arrived_is_failed_after_a_grace_period(tmp_path: Path) -> None:
    venue = "binance"
    market = market_for(venue, futures=7_000.0)
    market.open_position(BTC, "long", 1.0, 60_000, leverage=10, margin_mode="cross")
    rules = [{"name": "deleverage", "strategy": "deleverage", "at": "critical", "target_distance_pct": 8}]
    async with live_app(tmp_path, market, venue, rules=rules, request_timeout_s=1.0) as (server, app):
        for price in (60_000, 57_000, 55_000):
            await cycle_at(app, market, price)
        server.faults.arm(ORDER[venue], "drop_connection")  # nothing applied, no answer
        (row,) = (await cycle_at(app, market, 54_500)).actions
        assert row.status == "unknown" and market.actions_of("order") == []
        adapter = app.adapters["acct"]
        assert isinstance(adapter, CcxtAdapter)
        result = await cycle_at(app, market, 54_500)  # too early to conclude: still unknown
        assert app.store.action_by_client_id(row.client_id).status == "unknown"  # type: ignore[union-attr]
        assert result.actions == []
        adapter.clock = lambda: time.time() + 30  # the venue has had time to see it
        await cycle_at(app, market, 54_500)
        settled = app.store.action_by_client_id(row.client_id)
        assert settled is not None and settled.status == "failed" and "never placed" in (settled.error or "")


async def test_transfer_done_but_add_margin_refused_is_reported_precisely(tmp_path: Path) -> None:
    venue = "binance"
    market = market_for(venue, futures=0.0)
    market.open_position(BTC, "long", 1.0, 60_000, leverage=5, margin_mode="isolated")
    rules = [{**TOP_UP[1], "source": ["funding"]}]
    async with live_app(tmp_path, market, venue, rules=rules) as (server, app):
        for price in (60_000, 55_000):
            await cycle_at(app, market, price)
        server.faults.arm(MARGIN[venue], "http_429")
        result = await cycle_at(app, market, 51_000)
        (row,) = result.actions
        assert row.status == "failed" and row.error_kind == "transient"
        assert "transfer done" in (row.error or "") and "now sit in the futures wallet" in (row.error or "")
        details = json.loads(row.details or "{}")
        assert details["funds_now_in"] == "futures" and details["transfer"]
        (transfer,) = market.actions_of("transfer")
        assert transfer.applied and market.balance("futures") == pytest.approx(row.amount, abs=0.01)
        assert market.actions_of("margin") == []


async def test_hedge_on_a_separate_hedge_account(tmp_path: Path) -> None:
    from tests.fakes.exchange import FakeExchangeServer
    from tests.integration.exchange_support import account_config, settings_for

    venue = "binance"
    main, other = market_for(venue), market_for(venue)
    main.open_position(BTC, "long", 1.0, 60_000, leverage=5, margin_mode="isolated")
    rules = [{"name": "hedge", "strategy": "hedge", "at": "danger", "target_net_exposure_pct": 50, "unwind_at": "ok"}]
    a, b = FakeExchangeServer(venue, main), FakeExchangeServer(venue, other)
    await a.start()
    await b.start()
    app = None
    try:
        import io

        from bot.app import build_app
        from bot.notify.console import ConsoleNotifier

        accounts = [account_config(a, "acct", hedge_account="hedger"), account_config(b, "hedger")]
        guard = {"max_action_quote": 25_600, "min_action_quote": 200}
        settings = settings_for(tmp_path, accounts, rules=rules, guard=guard)
        app = build_app(settings, notifier=ConsoleNotifier(file=io.StringIO()))
        for price in (60_000, 55_000, 51_000):
            main.set_mark(BTC, price)
            other.set_mark(BTC, price)
            await app.engine.run_cycle("hedger")
            await app.engine.run_cycle("acct")
        (row,) = [r for r in app.store.actions() if r.kind == "hedge"]
        assert row.status == "done" and row.account == "acct" and row.hedge_account == "hedger"
        assert main.actions_of("order") == []  # nothing on the protected account
        (sent,) = b.requests.matching(ORDER[venue], "POST")
        assert sent.params["newClientOrderId"] == row.client_id and sent.params["side"] == "SELL"
        assert "positionSide" not in sent.params and "reduceOnly" not in sent.params  # a plain one-way order
        leg = other.get_position(BTC)
        assert leg is not None and leg.side == "short" and leg.contracts == pytest.approx(0.5)
    finally:
        if app is not None:
            await app.close()
        await a.stop()
        await b.stop()
