"""A real ccxt.async_support.bybit client against the Bybit v5 fake."""

from __future__ import annotations

import ccxt
import pytest

from tests.fakes.exchange import FakeMarket
from tests.fakes.exchange.testing import fake_venue, fund

pytestmark = pytest.mark.timeout(30)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def bybit_lp(side: str, size: float, entry: float, position_margin: float, mmr: float, deduction: float) -> float:
    """Bybit isolated: LP = entry -/+ (IM + extra margin - MM) / size, MM at entry from the risk tier."""
    mm = size * entry * mmr - deduction
    cushion = (position_margin - mm) / size
    return entry - cushion if side == "long" else entry + cushion


def seeded() -> FakeMarket:
    m = FakeMarket("bybit", marks={BTC: 55_000.0, ETH: 3_000.0})
    fund(m)
    return m


async def test_load_markets_only_hits_instruments_info() -> None:
    async with fake_venue("bybit", seeded()) as (server, ex):
        markets = await ex.load_markets()
        assert {BTC, ETH} <= set(markets)
        # ccxt always asks for the normal and the PreLaunch list
        assert server.requests.paths() == ["GET /v5/market/instruments-info"] * 2


async def test_startup_probes_are_served_without_the_recommended_options() -> None:
    config = {"options": {"enableUnifiedAccount": None, "enableUnifiedMargin": None}, "has": {"fetchCurrencies": True}}
    async with fake_venue("bybit", seeded(), config=config) as (server, ex):
        await ex.load_markets()
        assert "GET /v5/asset/coin/query-info" in server.requests.paths()
        assert (await ex.fetch_balance())["USDT"]["total"] == 10_000
        assert server.requests.count("/v5/user/query-api") == 1 and server.requests.count("/v5/account/info") == 1
        assert server.requests.last("/v5/account/wallet-balance").params["accountType"] == "UNIFIED"


async def test_positions_isolated_and_cross() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    m.open_position(ETH, "short", 10.0, 3_000, leverage=10, margin_mode="cross")
    async with fake_venue("bybit", m) as (server, ex):
        positions = {p["symbol"]: p for p in await ex.fetch_positions()}
        btc, eth = positions[BTC], positions[ETH]
        assert btc["contracts"] == 1 and btc["side"] == "long" and btc["leverage"] == 5
        # tier by value at entry: 55k -> risk tier 2 (0.5 %, mmDeduction 50)
        assert btc["liquidationPrice"] == pytest.approx(bybit_lp("long", 1, 55_000, 11_000, 0.005, 50))
        # ccxt never fills marginMode for bybit (tradeMode is "deprecated"): read info["tradeMode"]
        assert btc["marginMode"] is None and btc["info"]["tradeMode"] == 1 and eth["info"]["tradeMode"] == 0
        assert eth["info"]["liqPrice"] == "" and eth["liquidationPrice"] is None and eth["side"] == "short"
        for key in ("positionIM", "positionMM", "positionBalance", "riskLimitValue", "positionIdx", "avgPrice"):
            assert key in btc["info"]
        assert server.requests.last("/v5/position/list").params["settleCoin"] == "USDT"


async def test_wallet_balances_and_account_fields() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 50_000, leverage=10, margin_mode="isolated")
    async with fake_venue("bybit", m) as (server, ex):
        bal = await ex.fetch_balance()
        assert bal["USDT"]["total"] == pytest.approx(15_000)
        assert (await ex.fetch_balance({"type": "funding"}))["USDT"]["free"] == 500
        assert server.requests.last("/v5/asset/transfer/query-account-coins-balance").params["accountType"] == "FUND"
        raw = (await ex.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"}))["result"]["list"][0]
        mm = 55_000 * 0.005 - 50
        assert float(raw["totalMaintenanceMargin"]) == pytest.approx(mm)
        assert float(raw["totalEquity"]) == pytest.approx(20_000)
        assert float(raw["totalWalletBalance"]) == pytest.approx(15_000)
        assert float(raw["accountMMRate"]) == pytest.approx(mm / 20_000, abs=1e-4)
        assert float(raw["accountIMRate"]) == pytest.approx(5_500 / 20_000, abs=1e-4)


async def test_classic_account_uses_contract_wallet() -> None:
    async with fake_venue("bybit", seeded(), bybit_unified=False) as (server, ex):
        assert (await ex.fetch_balance())["USDT"]["free"] == 10_000
        assert server.requests.last("/v5/account/wallet-balance").params["accountType"] == "CONTRACT"


async def test_tickers_and_risk_limits() -> None:
    async with fake_venue("bybit", seeded()) as (_server, ex):
        assert (await ex.fetch_ticker(BTC))["markPrice"] == 55_000
        assert set(await ex.fetch_tickers([BTC, ETH])) == {BTC, ETH}
        tiers = (await ex.fetch_leverage_tiers([BTC]))[BTC]
        assert [(t["maxNotional"], t["maintenanceMarginRate"]) for t in tiers[:3]] == [
            (50_000, 0.004),
            (600_000, 0.005),
            (3_000_000, 0.0065),
        ]
        assert tiers[1]["info"]["mmDeduction"] == "50"
        assert len(await ex.fetch_market_leverage_tiers(ETH)) > 5


async def test_add_margin_via_implicit_v5_endpoint() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("bybit", m) as (_server, ex):
        res = await ex.privatePostV5PositionAddMargin(
            {"category": "linear", "symbol": "BTCUSDT", "margin": "500", "positionIdx": 0}
        )
        assert res["retCode"] == 0
        assert float(res["result"]["liqPrice"]) == pytest.approx(bybit_lp("long", 1, 55_000, 11_500, 0.005, 50))
        assert m.get_position(BTC).isolated_margin == 11_500 and m.balance("futures") == 9_500
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.privatePostV5PositionAddMargin(
                {"category": "linear", "symbol": "BTCUSDT", "margin": "100000", "positionIdx": 0}
            )


async def test_transfers_between_fund_and_unified() -> None:
    m = seeded()
    async with fake_venue("bybit", m) as (server, ex):
        # Both transfers book in the same millisecond, as they may on a fast machine: the history
        # must still come back in the order they were made (the CI failure this pins down).
        m.clock = lambda: 1_764_000_000_000
        tr = await ex.transfer("USDT", 200, "funding", "unified")
        assert tr["status"] == "ok"
        await ex.transfer("USDT", 50, "UNIFIED", "FUND")
        sent = [
            (r.params["fromAccountType"], r.params["toAccountType"])
            for r in server.requests.matching("/v5/asset/transfer/inter-transfer")
        ]
        assert sent == [("FUND", "UNIFIED"), ("UNIFIED", "FUND")]
        assert (m.balance("funding"), m.balance("futures")) == (350, 10_150)
        history = await ex.fetch_transfers("USDT")
        assert [(t["amount"], t["fromAccount"], t["toAccount"]) for t in history] == [
            (200, "fund", "unified"),
            (50, "unified", "fund"),
        ]  # ccxt sorts ascending by time
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.transfer("USDT", 10**9, "funding", "unified")
        await ex.transfer("USDT", 1, "spot", "swap")  # SPOT -> CONTRACT (classic account names)
        assert server.requests.last("/v5/asset/transfer/inter-transfer").params["toAccountType"] == "CONTRACT"


async def test_reduce_only_order_and_lookups() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 50_000, leverage=10, margin_mode="isolated")
    async with fake_venue("bybit", m) as (server, ex):
        order = await ex.create_order(BTC, "market", "sell", 0.4, None, {"reduceOnly": True, "clientOrderId": "g-1"})
        assert order["clientOrderId"] == "g-1" and order["status"] is None  # create returns ids only
        assert m.get_position(BTC).contracts == pytest.approx(0.6)
        assert m.actions_of("order")[0].params["client_order_id"] == "g-1"
        assert server.requests.last("/v5/order/create").params["reduceOnly"] is True
        fetched = await ex.fetch_order(order["id"], BTC, {"acknowledged": True})
        assert fetched["status"] == "closed" and fetched["filled"] == 0.4
        # ccxt sends orderId=None when looking up by orderLinkId -> Bybit finds nothing
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(None, BTC, {"acknowledged": True, "orderLinkId": "g-1"})
        raw = await ex.privateGetV5OrderRealtime({"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "g-1"})
        assert raw["result"]["list"][0]["orderStatus"] == "Filled"
        (trade,) = await ex.fetch_my_trades(BTC)
        assert trade["amount"] == 0.4
        with pytest.raises(ccxt.InvalidOrder):  # 110017 reduce-only on the wrong side
            await ex.create_order(BTC, "market", "buy", 0.1, None, {"reduceOnly": True})
        with pytest.raises(ccxt.InsufficientFunds):  # 110007
            await ex.create_order(BTC, "market", "buy", 100, None)
        limit = await ex.create_order(ETH, "limit", "buy", 1, 2_500)
        assert [o["id"] for o in await ex.fetch_open_orders(ETH)] == [limit["id"]]


async def test_hedge_mode_uses_position_idx() -> None:
    m = seeded()
    async with fake_venue("bybit", m) as (server, ex):
        await ex.privatePostV5PositionSwitchMode({"category": "linear", "coin": "USDT", "mode": 3})
        assert m.hedge_mode
        await ex.create_order(BTC, "market", "buy", 0.2, None, {"hedged": True})
        await ex.create_order(BTC, "market", "sell", 0.1, None, {"positionIdx": 2})
        await ex.create_order(BTC, "market", "sell", 0.05, None, {"hedged": True, "reduceOnly": True})
        idx = [r.params["positionIdx"] for r in server.requests.matching("/v5/order/create")]
        assert idx == [1, 2, 1]
        positions = {(p["side"], p["contracts"], p["hedged"]) for p in await ex.fetch_positions()}
        assert positions == {("long", 0.15, True), ("short", 0.1, True)}
        with pytest.raises(ccxt.BadRequest):  # positionIdx 0 in hedge mode
            await ex.create_order(BTC, "market", "buy", 0.1, None)


async def test_auth_and_clock_errors() -> None:
    async with fake_venue("bybit", seeded(), config={"secret": "wrong"}) as (server, ex):
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_positions()
        assert server.requests.last().status == 401
    async with fake_venue("bybit", seeded()) as (server, ex):
        await ex.load_markets()
        server.clock_offset_ms = 30_000
        with pytest.raises(ccxt.InvalidNonce):
            await ex.fetch_positions()
        await ex.load_time_difference()
        assert await ex.fetch_positions() == []


async def test_faults() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("bybit", m, config={"timeout": 500}) as (server, ex):
        await ex.load_markets()
        path = "/v5/position/list"
        for kind, bare, exc in (
            ("http_429", False, ccxt.RateLimitExceeded),
            ("http_429", True, ccxt.RateLimitExceeded),
            ("http_5xx", False, ccxt.ExchangeNotAvailable),
            ("auth_error", False, ccxt.AuthenticationError),
            ("nonce_error", False, ccxt.InvalidNonce),
        ):
            server.faults.arm(path, kind, bare=bare)
            with pytest.raises(exc):
                await ex.fetch_positions()
        for kind in ("malformed_json", "empty_body"):  # silently "no positions"
            server.faults.arm(path, kind)
            assert await ex.fetch_positions() == []
        server.faults.arm("/v5/position/add-margin", "apply_then_timeout", seconds=3)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.privatePostV5PositionAddMargin({"category": "linear", "symbol": "BTCUSDT", "margin": "10"})
        assert m.get_position(BTC).isolated_margin == 11_010


async def test_crash_liquidates_isolated_position() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    lp = bybit_lp("long", 1, 55_000, 11_000, 0.005, 50)
    async with fake_venue("bybit", m) as (_server, ex):
        m.set_mark(BTC, lp + 0.5)
        assert len(await ex.fetch_positions()) == 1
        m.crash(BTC, 1)
        assert await ex.fetch_positions() == [] and m.liquidations[0].symbol == BTC
