"""What a live account costs and what it never does: 2 REST calls per steady-state cycle (counted
in the fake's request log and by the adapter), slow data on its own schedule, dry-run on a real
account sends nothing money-moving, and ``marginguard check --once --json`` works against the
fake for each venue (the CLI run as a subprocess)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.exchanges.ccxt_adapter import CcxtAdapter
from tests.fakes.exchange import FakeExchangeServer
from tests.integration.exchange_support import (
    BTC,
    DELEVERAGE,
    ETH,
    ONE_BTC,
    POSITIONS,
    TOP_UP,
    VENUES,
    account_config,
    check_once_json,
    cycle_at,
    live_app,
    market_for,
    money_posts,
)

pytestmark = pytest.mark.timeout(20)
STEADY = {
    "binance": ["GET /fapi/v3/positionRisk", "GET /fapi/v3/account"],
    "bybit": ["GET /v5/position/list", "GET /v5/account/wallet-balance"],
    "okx": ["GET /api/v5/account/positions", "GET /api/v5/account/balance"],
}

WALLETS = {
    "binance": ["GET /api/v3/account", "POST /sapi/v1/asset/get-funding-asset"],
    "bybit": ["GET /v5/asset/transfer/query-account-coins-balance"],
    "okx": ["GET /api/v5/asset/balances"],
}
MARKETS = {
    "binance": "GET /fapi/v1/exchangeInfo",
    "bybit": "GET /v5/market/instruments-info",
    "okx": "GET /api/v5/public/instruments",
}


@pytest.mark.parametrize("venue", VENUES)
async def test_steady_state_costs_two_rest_calls_per_cycle(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    market.open_position(ETH, "short", 10 * ONE_BTC[venue], 3_000, leverage=10, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP) as (server, app):
        adapter = app.adapters["acct"]
        assert isinstance(adapter, CcxtAdapter) and adapter.ex.enableRateLimit is False  # the tests' passthrough
        await cycle_at(app, market, 60_000)  # first cycle: markets, modes, tiers, wallets
        start = adapter.clock()
        for price in (59_800, 59_600, 59_400):
            seen, counted = len(server.requests), adapter.request_count
            result = await cycle_at(app, market, price)
            assert result.error is None and len(result.risk.positions) == 2  # type: ignore[union-attr]
            assert server.requests.paths()[seen:] == STEADY[venue]
            assert adapter.request_count - counted == 2
        # spot/funding balances come back after wallet_refresh_s, markets and tiers after markets_refresh_s
        adapter.clock = lambda: time.time() + (adapter.wallet_refresh_s + 1)
        seen = len(server.requests)
        await cycle_at(app, market, None)
        assert server.requests.paths()[seen:] == STEADY[venue] + WALLETS[venue]
        adapter.clock = lambda: time.time() + app.settings.poll.markets_refresh_s + 1
        seen = len(server.requests)
        await cycle_at(app, market, None)
        assert MARKETS[venue] in server.requests.paths()[seen:]
        assert adapter.clock() - start > 60


@pytest.mark.parametrize("venue", VENUES)
async def test_dry_run_on_a_live_account_sends_nothing(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    rules = [*TOP_UP, DELEVERAGE[1]]
    async with live_app(tmp_path, market, venue, rules=rules, mode="paper", guard={"max_action_quote": 500}) as (
        server,
        app,
    ):
        for price in (60_000, 55_000, 51_000, 49_500):
            result = await cycle_at(app, market, price)
            assert result.error is None
        rows = app.store.actions(account="acct")
        assert {r.kind for r in rows} == {"top_up", "reduce"}
        for row in rows:
            assert row.mode == "paper" and row.status == "done" and json.loads(row.details or "{}") == {"dry_run": True}
        assert money_posts(server) == [] and market.actions == []
        assert {r.method for r in server.requests if r.path == POSITIONS[venue]} == {"GET"}


@pytest.mark.timeout(60)  # a real process that imports ccxt: ~3 s idle, twice that on a loaded CI box
@pytest.mark.parametrize("venue", VENUES)
async def test_check_once_json_against_the_fake(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with FakeExchangeServer(venue, market) as server:  # type: ignore[arg-type]
        returncode, out, err = await check_once_json(tmp_path, [account_config(server, "live1")], timeout=45)
        assert returncode == 0, err.decode()
        report = json.loads(out)
        (account,) = report["accounts"]
        assert account["error"] is None and account["exchange"] == venue
        (position,) = account["positions"]
        assert position["symbol"] == BTC and position["side"] == "long"
        assert position["liquidation_price_reported"] == pytest.approx(position["liquidation_price_recomputed"])
        assert account["requests"] == len(server.requests)  # the adapter counts every REST call
        assert server.api_key not in err.decode() and server.secret not in out.decode()
        assert money_posts(server) == []
