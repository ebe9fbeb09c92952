"""Exchange trouble during snapshots, through the engine: rate limits, 5xx HTML pages, malformed or
empty 200 replies, clock skew and refused keys each end as the documented behaviour (back off,
untrusted data, resync, account parked) and never crash the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.exchanges.ccxt_adapter import CcxtAdapter
from bot.risk.escalation import RiskTier
from tests.integration.exchange_support import (
    BTC,
    ONE_BTC,
    POSITIONS,
    TOP_UP,
    VENUES,
    account_config,
    cycle_at,
    live_app,
    market_for,
)

pytestmark = pytest.mark.timeout(20)
CLOCK_SKEW_MS = {"binance": 30_000, "bybit": 30_000, "okx": 45_000}


async def clean_cycle(app: Any, market: Any) -> None:
    app.engine.backoff_until.clear()  # the test does not wait out the engine's backoff
    result = await cycle_at(app, market, None)
    assert result.error is None and result.risk is not None and not result.risk.untrusted, result.error


@pytest.mark.parametrize("venue", VENUES)
async def test_snapshot_faults_back_off_or_distrust_and_recover(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP, request_timeout_s=1.0) as (server, app):
        await clean_cycle(app, market)
        path = POSITIONS[venue]
        for kind, bare, expected in (
            ("http_429", False, "Transient: "),
            ("http_429", True, "Transient: "),
            ("http_5xx", False, "Transient: "),
            ("nonce_error", False, "ClockSkew: "),
        ):
            server.faults.arm(path, kind, bare=bare)
            result = await cycle_at(app, market, None)
            assert result.error is not None and result.error.startswith(expected), (kind, result.error)
            await clean_cycle(app, market)
        # a 200 with a truncated or empty body: ccxt would say "no positions"; we say "unknown"
        market.set_mark(BTC, 51_000)  # danger: a top-up would be due
        for kind in ("malformed_json", "empty_body"):
            server.faults.arm(path, kind)
            result = await cycle_at(app, market, None)
            assert result.error is None and result.risk is not None
            assert any("positions unknown" in u for u in result.risk.untrusted), result.risk.untrusted
            assert result.actions == [] and market.actions_of("margin") == []
            assert app.engine.memos["acct"], "the position must not be declared gone"
        # the account endpoint malformed: nothing to build on, a BadReply
        account_path = {"binance": "/fapi/v3/account", "bybit": "*/wallet-balance", "okx": "*/account/balance"}[venue]
        server.faults.arm(account_path, "malformed_json")
        result = await cycle_at(app, market, None)
        assert result.error is not None and result.error.startswith("BadReply: ")
        app.engine.backoff_until.clear()
        result = await cycle_at(app, market, None)
        assert result.error is None and [a.kind for a in result.actions] == ["top_up"]


@pytest.mark.parametrize("venue", VENUES)
async def test_real_clock_skew_is_resynchronised(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP) as (server, app):
        await clean_cycle(app, market)
        server.clock_offset_ms = CLOCK_SKEW_MS[venue]
        result = await cycle_at(app, market, None)
        assert result.error is not None and result.error.startswith("ClockSkew: ")
        await clean_cycle(app, market)  # the time difference was reloaded: signed calls work again


@pytest.mark.parametrize("venue", VENUES)
async def test_refused_key_parks_the_account_once(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP) as (server, app):
        await clean_cycle(app, market)
        server.faults.arm(POSITIONS[venue], "auth_error", times=-1)
        # Binance: ccxt raises -2015 after a successful call as DDoSProtection (a temporary ban
        # per ccxt); the adapter parks the account only if it persists.
        strikes = 3 if venue == "binance" else 1
        for n in range(strikes):
            app.engine.backoff_until.clear()
            result = await cycle_at(app, market, None)
            assert result.error is not None
            assert result.error.startswith("authentication failed" if n == strikes - 1 else "Transient: "), result.error
        assert "acct" in app.engine.broken
        before = len(server.requests)
        result = await cycle_at(app, market, None)
        assert len(server.requests) == before  # no spin: a parked account is not polled
        notices = [a for a in app.store.alerts() if "Polling stopped" in a.text]
        assert len(notices) == 1 and server.api_key not in notices[0].text


@pytest.mark.parametrize("venue", VENUES)
async def test_wrong_secret_at_start_is_auth_failed_without_leaking_it(tmp_path: Path, venue: str) -> None:
    from tests.fakes.exchange import FakeExchangeServer

    async with FakeExchangeServer(venue, market_for(venue)) as server:  # type: ignore[arg-type]
        account = account_config(server)
        account["credentials"]["secret"] = "wrong-secret-value"
        from bot.settings import AccountSettings, PollSettings

        adapter = CcxtAdapter(AccountSettings(**account), PollSettings())
        try:
            from bot.errors import AuthFailed

            with pytest.raises(AuthFailed) as info:
                await adapter.snapshot()
            text = str(info.value)
            for secret in ("wrong-secret-value", server.api_key, server.password):
                assert secret not in text
        finally:
            await adapter.close()


@pytest.mark.parametrize("venue", VENUES)
async def test_empty_position_list_must_be_corroborated(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP) as (server, app):
        await clean_cycle(app, market)
        route = server.venue.routes[("GET", POSITIONS[venue])]
        real = route.handler
        venue_api: Any = server.venue
        if venue == "binance":
            reply: Any = []
        elif venue == "bybit":
            reply = venue_api.ok({"list": [], "nextPageCursor": "", "category": "linear"})
        else:
            reply = venue_api.ok([])
        route.handler = lambda req: reply  # a well-formed "no positions" while margin is in use
        result = await cycle_at(app, market, 51_000)
        assert result.risk is not None and result.risk.positions == ()
        assert any("not corroborated" in u for u in result.risk.untrusted), result.risk.untrusted
        assert result.risk.tier >= RiskTier.WARNING and result.actions == []
        assert app.engine.memos["acct"], "the position must not be declared gone"
        route.handler = real
        market.positions.clear()  # really closed: no margin in use, the empty list is believed
        result = await cycle_at(app, market, None)
        assert result.risk is not None and result.risk.positions == () and not result.risk.untrusted


async def test_ip_ban_carries_retry_after(tmp_path: Path) -> None:
    from tests.fakes.exchange import FakeExchangeServer

    async with FakeExchangeServer("binance", market_for("binance")) as server:
        from bot.errors import Transient
        from bot.settings import AccountSettings, PollSettings

        adapter = CcxtAdapter(AccountSettings(**account_config(server)), PollSettings())
        try:
            await adapter.snapshot()
            server.faults.arm(POSITIONS["binance"], "http_418")
            with pytest.raises(Transient) as info:
                await adapter.snapshot()
            assert info.value.retry_after is not None and 100 < info.value.retry_after <= 120
        finally:
            await adapter.close()
