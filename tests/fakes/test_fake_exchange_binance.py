"""A real ccxt.async_support.binance client against the Binance USDⓈ-M fake."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from tests.fakes.exchange import FakeMarket
from tests.fakes.exchange.testing import fake_venue, fund

pytestmark = pytest.mark.timeout(30)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def binance_lp(side: str, qty: float, entry: float, wallet: float, mmr: float, cum: float) -> float:
    """Binance FAQ one-way formula with TMM1 = UPNL1 = 0 (isolated, or the only cross position)."""
    s = 1.0 if side == "long" else -1.0
    return (wallet + cum - s * qty * entry) / (qty * mmr - s * qty)


def seeded() -> FakeMarket:
    m = FakeMarket("binance", marks={BTC: 55_000.0, ETH: 3_000.0})
    fund(m)
    return m


async def test_load_markets_uses_only_exchange_info() -> None:
    async with fake_venue("binance", seeded()) as (server, ex):
        markets = await ex.load_markets()
        assert {BTC, ETH} <= set(markets)
        assert markets[BTC]["linear"] and markets[BTC]["swap"]
        assert server.requests.paths() == ["GET /fapi/v1/exchangeInfo"]


async def test_currencies_endpoint_served_when_enabled() -> None:
    async with fake_venue("binance", seeded(), config={"options": {"fetchCurrencies": True}}) as (server, ex):
        await ex.load_markets()
        assert server.requests.paths() == ["GET /sapi/v1/capital/config/getall", "GET /fapi/v1/exchangeInfo"]
        assert ex.currencies["USDT"]["networks"]["ERC20"]["withdraw"] is True


async def test_fetch_positions_isolated_liquidation_price_uses_tier_at_liquidation() -> None:
    m = seeded()
    # notional 55k is in bracket 2 (0.5%, cum 50) but the liquidation notional (~44k) is in bracket 1
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    m.open_position(ETH, "short", 10.0, 3_000, leverage=10, margin_mode="isolated")
    async with fake_venue("binance", m) as (server, ex):
        positions = {p["symbol"]: p for p in await ex.fetch_positions()}
        btc, eth = positions[BTC], positions[ETH]
        assert btc["contracts"] == 1.0 and btc["side"] == "long" and btc["marginMode"] == "isolated"
        assert btc["entryPrice"] == 55_000 and btc["markPrice"] == 55_000 and btc["leverage"] is None
        assert btc["liquidationPrice"] == pytest.approx(binance_lp("long", 1, 55_000, 11_000, 0.004, 0), rel=1e-8)
        assert btc["liquidationPrice"] != pytest.approx(binance_lp("long", 1, 55_000, 11_000, 0.005, 50))
        assert eth["side"] == "short" and eth["contracts"] == 10
        assert eth["liquidationPrice"] == pytest.approx(binance_lp("short", 10, 3_000, 3_000, 0.005, 0), rel=1e-8)
        info = btc["info"]
        for key in ("positionAmt", "isolatedMargin", "isolatedWallet", "notional", "maintMargin", "positionSide"):
            assert key in info
        # the obsolete v2 endpoint carries leverage / marginType (v3 dropped them)
        v2 = await ex.fapiPrivateV2GetPositionRisk({"symbol": "BTCUSDT"})
        assert v2[0]["leverage"] == "5" and v2[0]["marginType"] == "isolated"
        assert server.requests.count("/fapi/v1/leverageBracket") == 1  # cached by ccxt after the first call
        await ex.fetch_positions()
        assert server.requests.count("/fapi/v3/positionRisk") == 2
        assert server.requests.count("/fapi/v1/leverageBracket") == 1


async def test_cross_liquidation_price_and_zero_when_impossible() -> None:
    m = FakeMarket("binance", marks={BTC: 60_000.0})
    m.set_wallet("futures", "USDT", 1_000)
    m.open_position(BTC, "long", 0.5, 60_000, leverage=50, margin_mode="cross")
    async with fake_venue("binance", m) as (_server, ex):
        (pos,) = await ex.fetch_positions()
        assert pos["marginMode"] == "cross"
        assert pos["liquidationPrice"] == pytest.approx(binance_lp("long", 0.5, 60_000, 1_000, 0.004, 0), rel=1e-8)
        m.set_wallet("futures", "USDT", 100_000)  # fully collateralised: no positive LP -> "0"
        (pos,) = await ex.fetch_positions()
        assert pos["info"]["liquidationPrice"] == "0" and pos["liquidationPrice"] is None


async def test_balances_and_raw_account_fields() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 50_000, leverage=10, margin_mode="isolated")  # upnl +5000 at 55k
    async with fake_venue("binance", m) as (server, ex):
        futures = await ex.fetch_balance()
        assert futures["USDT"]["total"] == pytest.approx(10_000 + 5_000 + 5_000)  # wallet incl. isolated + upnl
        spot = await ex.fetch_balance({"type": "spot"})
        funding = await ex.fetch_balance({"type": "funding"})
        assert spot["USDT"]["free"] == 1_000 and funding["USDT"]["free"] == 500
        assert server.requests.paths()[-3:] == [
            "GET /fapi/v3/account",
            "GET /api/v3/account",
            "POST /sapi/v1/asset/get-funding-asset",
        ]
        for method in (ex.fapiPrivateV3GetAccount, ex.fapiPrivateV2GetAccount):
            acct = await method()
            assert float(acct["totalWalletBalance"]) == pytest.approx(15_000)
            assert float(acct["totalUnrealizedProfit"]) == pytest.approx(5_000)
            assert float(acct["totalMarginBalance"]) == pytest.approx(20_000)
            assert float(acct["totalMaintMargin"]) == pytest.approx(55_000 * 0.005 - 50)
            assert float(acct["availableBalance"]) == pytest.approx(10_000)


async def test_mark_prices_tickers_and_tiers() -> None:
    async with fake_venue("binance", seeded()) as (_server, ex):
        assert (await ex.fetch_mark_price(BTC))["markPrice"] == 55_000
        marks = await ex.fetch_mark_prices([BTC, ETH])
        assert marks[ETH]["markPrice"] == 3_000
        assert (await ex.fetch_ticker(BTC))["last"] == 55_000
        tiers = (await ex.fetch_leverage_tiers([BTC]))[BTC]
        assert [(t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"]) for t in tiers[:5]] == [
            (0, 50_000, 0.004),
            (50_000, 600_000, 0.005),
            (600_000, 3_000_000, 0.0065),
            (3_000_000, 12_000_000, 0.01),
            (12_000_000, 70_000_000, 0.02),
        ]
        assert [t["info"]["cum"] for t in tiers[:5]] == [0, 50, 950, 11_450, 131_450]
        assert len(await ex.fetch_market_leverage_tiers(ETH)) > 5


async def test_add_margin_moves_futures_funds_into_the_isolated_position() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("binance", m) as (server, ex):
        res = await ex.add_margin(BTC, 250)
        assert res["type"] == "add" and res["amount"] == 250 and res["status"] == "ok"
        assert m.get_position(BTC).isolated_margin == pytest.approx(11_250)
        assert m.balance("futures") == pytest.approx(9_750)
        assert server.requests.last("/fapi/v1/positionMargin").params["type"] == "1"
        (pos,) = await ex.fetch_positions()
        assert pos["liquidationPrice"] == pytest.approx(binance_lp("long", 1, 55_000, 11_250, 0.004, 0))
        history = await ex.fetch_margin_adjustment_history(BTC)
        assert [(h["type"], h["amount"]) for h in history] == [("add", 250)]
        with pytest.raises(ccxt.InsufficientFunds):  # -4050 "Cross balance insufficient." (generic table)
            await ex.add_margin(BTC, 1_000_000)
        assert [a.applied for a in m.actions_of("margin")] == [True, False]


async def test_transfer_account_names_and_history() -> None:
    m = seeded()
    async with fake_venue("binance", m) as (server, ex):
        await ex.transfer("USDT", 100, "spot", "swap")  # MAIN_UMFUTURE
        await ex.transfer("USDT", 40, "funding", "linear")  # FUNDING_UMFUTURE
        await ex.transfer("USDT", 15, "swap", "funding")  # UMFUTURE_FUNDING
        types = [r.params["type"] for r in server.requests.matching("/sapi/v1/asset/transfer", "POST")]
        assert types == ["MAIN_UMFUTURE", "FUNDING_UMFUTURE", "UMFUTURE_FUNDING"]
        assert (m.balance("spot"), m.balance("funding"), m.balance("futures")) == (900, 475, 10_125)
        # ccxt has no "future" account alias: it is taken as an isolated-margin symbol -> MAIN_ISOLATED_MARGIN
        with pytest.raises(ccxt.ExchangeError):
            await ex.transfer("USDT", 1, "spot", "future")
        assert server.requests.last("/sapi/v1/asset/transfer", "POST").params["type"] == "MAIN_ISOLATED_MARGIN"
        # with options.defaultType='swap' fetch_transfers defaults to UMFUTURE_MAIN; pass accounts explicitly
        history = await ex.fetch_transfers("USDT", params={"fromAccount": "spot", "toAccount": "swap"})
        assert [(t["amount"], t["fromAccount"], t["toAccount"]) for t in history] == [(100, "spot", "linear")]
        with pytest.raises(ccxt.ExchangeError):  # -5013 needs the spot error table (see install_error_routing)
            await ex.transfer("USDT", 10**9, "spot", "swap")
        server.install_error_routing(ex)
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.transfer("USDT", 10**9, "spot", "swap")


async def test_reduce_only_market_order_realises_pnl_and_is_logged() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 50_000, leverage=10, margin_mode="isolated")
    async with fake_venue("binance", m) as (server, ex):
        order = await ex.create_order(BTC, "market", "sell", 0.4, None, {"reduceOnly": True, "clientOrderId": "g-1"})
        assert order["status"] == "closed" and order["filled"] == 0.4 and order["clientOrderId"] == "g-1"
        pos = m.get_position(BTC)
        assert pos.contracts == pytest.approx(0.6) and pos.isolated_margin == pytest.approx(3_000)
        fee = 0.4 * 55_000 * m.taker_fee
        assert m.balance("futures") == pytest.approx(10_000 + 2_000 + 0.4 * 5_000 - fee)
        (action,) = m.actions_of("order")
        assert action.applied and action.params["client_order_id"] == "g-1" and action.params["reduce_only"]
        assert server.requests.last("/fapi/v1/order", "POST").params["newClientOrderId"] == "g-1"
        assert (await ex.fetch_order(order["id"], BTC))["status"] == "closed"
        by_cid = await ex.fetch_order(None, BTC, {"origClientOrderId": "g-1"})
        assert by_cid["id"] == order["id"]
        (trade,) = await ex.fetch_my_trades(BTC)
        assert trade["amount"] == 0.4 and float(trade["info"]["realizedPnl"]) == pytest.approx(2_000)
        # oversized reduce-only closes exactly the position, never flips it
        await ex.create_order(BTC, "market", "sell", 5, None, {"reduceOnly": True})
        assert m.get_position(BTC) is None and await ex.fetch_positions() == []
        with pytest.raises(ccxt.ExchangeError, match="-2022"):  # nothing left to reduce
            await ex.create_order(BTC, "market", "sell", 0.1, None, {"reduceOnly": True})
        server.install_error_routing(ex)
        with pytest.raises(ccxt.InvalidOrder, match="-2022"):
            await ex.create_order(BTC, "market", "buy", 0.1, None, {"reduceOnly": True})
        with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
            await ex.create_order(BTC, "market", "buy", 100, None)


async def test_limit_orders_rest_until_the_mark_crosses() -> None:
    m = seeded()
    async with fake_venue("binance", m) as (_server, ex):
        order = await ex.create_order(BTC, "limit", "buy", 0.1, 50_000, {"clientOrderId": "lim-1"})
        assert order["status"] == "open"
        assert [o["clientOrderId"] for o in await ex.fetch_open_orders(BTC)] == ["lim-1"]
        m.set_mark(BTC, 49_900)
        assert await ex.fetch_open_orders(BTC) == []
        (pos,) = await ex.fetch_positions()
        assert pos["entryPrice"] == 50_000 and pos["contracts"] == 0.1 and pos["marginMode"] == "cross"


async def test_hedge_mode_orders_use_position_side() -> None:
    m = seeded()
    m.hedge_mode = True
    async with fake_venue("binance", m) as (server, ex):
        assert (await ex.fetch_position_mode())["hedged"] is True
        await ex.create_order(BTC, "market", "buy", 0.2, None, {"positionSide": "LONG"})
        await ex.create_order(BTC, "market", "sell", 0.1, None, {"positionSide": "SHORT"})
        await ex.create_order(BTC, "market", "sell", 0.05, None, {"hedged": True, "reduceOnly": True})
        sent = [r.params for r in server.requests.matching("/fapi/v1/order", "POST")]
        assert [p["positionSide"] for p in sent] == ["LONG", "SHORT", "LONG"] and "reduceOnly" not in sent[2]
        positions = {(p["side"], p["contracts"]) for p in await ex.fetch_positions()}
        assert positions == {("long", 0.15), ("short", 0.1)}
        with pytest.raises(ccxt.BadRequest, match="-1106"):  # reduceOnly is not accepted in hedge mode
            await ex.create_order(BTC, "market", "sell", 0.05, None, {"positionSide": "LONG", "reduceOnly": True})


async def test_authentication_errors() -> None:
    async with fake_venue("binance", seeded(), config={"secret": "not-the-secret"}) as (_server, ex):
        await ex.load_markets()  # public: fine
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await ex.fetch_positions()
    async with fake_venue("binance", seeded(), config={"apiKey": "someone-else"}) as (_server, ex):
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await ex.fetch_balance()


async def test_clock_skew_gives_invalid_nonce_until_time_difference_is_loaded() -> None:
    async with fake_venue("binance", seeded()) as (server, ex):
        await ex.load_markets()
        server.clock_offset_ms = -15_000  # server behind the client: timestamp "ahead"
        with pytest.raises(ccxt.InvalidNonce, match="-1021"):
            await ex.fetch_balance()
        server.clock_offset_ms = 15_000  # server ahead: outside recvWindow (ccxt sends 10000)
        with pytest.raises(ccxt.InvalidNonce, match="-1021"):
            await ex.fetch_balance()
        ex.options["fetchTime"] = "swap"  # load_time_difference -> GET /fapi/v1/time
        await ex.load_time_difference()
        assert (await ex.fetch_balance())["USDT"]["total"] == 10_000


async def test_faults_map_to_ccxt_exceptions() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("binance", m, config={"timeout": 500}) as (server, ex):
        await ex.load_markets()
        await ex.fetch_positions()
        path = "/fapi/v3/positionRisk"
        # Binance handle_errors raises DDoSProtection (parent of RateLimitExceeded!) for 418/429
        for kind, exc in (
            ("http_429", ccxt.DDoSProtection),
            ("http_418", ccxt.DDoSProtection),
            ("http_5xx", ccxt.ExchangeNotAvailable),
            ("auth_error", ccxt.AuthenticationError),
            ("nonce_error", ccxt.InvalidNonce),
        ):
            server.faults.arm(path, kind)
            with pytest.raises(exc) as info:
                await ex.fetch_positions()
            assert not isinstance(info.value, ccxt.RateLimitExceeded)
        # malformed / empty 200 bodies are NOT errors for fetch_positions: ccxt silently returns []
        for kind in ("malformed_json", "empty_body"):
            server.faults.arm(path, kind)
            assert await ex.fetch_positions() == []
        # a dropped keep-alive GET is retried once by aiohttp; two drops surface as ExchangeNotAvailable
        server.faults.arm(path, "drop_connection", times=2)
        before = server.requests.count(path)
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.fetch_positions()
        assert server.requests.count(path) - before == 2
        server.faults.arm(path, "delay", seconds=0.3)
        assert len(await ex.fetch_positions()) == 1
        # the order is applied, the reply never arrives in time
        server.faults.arm("/fapi/v1/order", "apply_then_timeout", seconds=3)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(BTC, "market", "sell", 0.5, None, {"reduceOnly": True, "clientOrderId": "t-1"})
        assert m.get_position(BTC).contracts == pytest.approx(0.5)
        assert (await ex.fetch_order(None, BTC, {"origClientOrderId": "t-1"}))["status"] == "closed"


async def test_crash_liquidates_isolated_position() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    lp = binance_lp("long", 1, 55_000, 11_000, 0.004, 0)
    m.script(BTC, [50_000, lp + 1, lp - 1])
    async with fake_venue("binance", m) as (_server, ex):
        m.step()
        m.step()
        assert len(await ex.fetch_positions()) == 1
        m.step()
        assert await ex.fetch_positions() == []
        (liq,) = m.liquidations
        assert liq.liquidation_price == pytest.approx(lp) and liq.margin_mode == "isolated"
        assert m.balance("futures") == 10_000  # the isolated margin is gone, the cross wallet untouched


async def test_stop_does_not_wait_for_pending_delays_and_applies_nothing() -> None:
    m = seeded()
    m.open_position(BTC, "long", 1.0, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("binance", m, config={"timeout": 30_000}) as (server, ex):
        await ex.load_markets()
        server.faults.arm("/fapi/v1/order", "delay", seconds=60)
        pending = asyncio.ensure_future(ex.create_order(BTC, "market", "sell", 0.5, None, {"reduceOnly": True}))
        while not server.requests.count("/fapi/v1/order"):
            await asyncio.sleep(0.01)
        await asyncio.wait_for(server.stop(), 15)  # not the 60 s delay
        with pytest.raises(ccxt.NetworkError):
            await pending
        assert m.get_position(BTC).contracts == 1.0 and m.actions_of("order") == []
