"""A real ccxt.async_support.okx client against the OKX v5 fake."""

from __future__ import annotations

import ccxt
import pytest

from tests.fakes.exchange import FakeMarket
from tests.fakes.exchange.testing import fake_venue, fund

pytestmark = pytest.mark.timeout(30)
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
TAKER = 0.0005


def okx_lp(side: str, contracts: float, ct_val: float, avg_px: float, margin: float, mmr: float) -> float:
    """OKX isolated USDT swap liquidation price (mmr of the tier holding the size, taker fee)."""
    q = contracts * ct_val
    if side == "long":
        return (margin - q * avg_px) / (q * (mmr + TAKER - 1))
    return (margin + q * avg_px) / (q * (mmr + TAKER + 1))


def seeded() -> FakeMarket:
    m = FakeMarket("okx", marks={BTC: 55_000.0, ETH: 3_000.0}, taker_fee=TAKER)
    fund(m)
    return m


async def test_load_markets_only_public_instruments() -> None:
    async with fake_venue("okx", seeded()) as (server, ex):
        markets = await ex.load_markets()
        assert markets[BTC]["contractSize"] == 0.01 and markets[ETH]["contractSize"] == 0.1
        assert server.requests.paths() == ["GET /api/v5/public/instruments"]
        assert server.requests.last().params["instType"] == "SWAP"


async def test_currencies_endpoint_served_when_enabled() -> None:
    async with fake_venue("okx", seeded(), config={"has": {"fetchCurrencies": True}}) as (server, ex):
        await ex.load_markets()
        assert server.requests.paths()[0] == "GET /api/v5/asset/currencies"
        assert "USDT" in ex.currencies


async def test_positions_isolated_formula_and_cross_blank() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 55_000, leverage=5, margin_mode="isolated")  # 100 cts = 1 BTC
    m.open_position(ETH, "short", 100, 3_000, leverage=10, margin_mode="cross")  # 10 ETH
    async with fake_venue("okx", m) as (_server, ex):
        positions = {p["symbol"]: p for p in await ex.fetch_positions()}
        btc, eth = positions[BTC], positions[ETH]
        assert btc["contracts"] == 100 and btc["contractSize"] == 0.01 and btc["side"] == "long"
        assert btc["marginMode"] == "isolated" and btc["notional"] == pytest.approx(55_000)
        assert btc["liquidationPrice"] == pytest.approx(okx_lp("long", 100, 0.01, 55_000, 11_000, 0.004), rel=1e-8)
        assert eth["marginMode"] == "cross" and eth["side"] == "short"
        assert eth["info"]["liqPx"] == "" and eth["liquidationPrice"] is None
        for key in ("pos", "posSide", "avgPx", "markPx", "margin", "imr", "mmr", "upl", "lever", "notionalUsd"):
            assert key in btc["info"]
        assert btc["info"]["posSide"] == "net" and eth["info"]["pos"] == "-100"


async def test_balances_and_account_level_fields() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 50_000, leverage=10, margin_mode="isolated")
    m.open_position(ETH, "long", 100, 3_000, leverage=10, margin_mode="cross")
    async with fake_venue("okx", m) as (server, ex):
        assert (await ex.fetch_balance())["USDT"]["total"] == pytest.approx(15_000 + 5_000)
        assert (await ex.fetch_balance({"type": "funding"}))["USDT"]["free"] == 500
        assert server.requests.paths()[-2:] == ["GET /api/v5/account/balance", "GET /api/v5/asset/balances"]
        acct = (await ex.privateGetAccountBalance())["data"][0]
        cross_mm = 10 * 3_000 * 0.005
        assert float(acct["totalEq"]) == pytest.approx(20_000)
        assert float(acct["adjEq"]) == pytest.approx(10_000)  # cross equity (isolated excluded)
        assert float(acct["mmr"]) == pytest.approx(cross_mm) and float(acct["imr"]) == pytest.approx(3_000)
        assert float(acct["mgnRatio"]) == pytest.approx(10_000 / cross_mm)
        server.venue.acct_lv = "2"  # single-currency margin: OKX leaves the account-level ratios blank
        acct = (await ex.privateGetAccountBalance())["data"][0]
        assert acct["adjEq"] == acct["mgnRatio"] == acct["mmr"] == "" and acct["totalEq"] != ""


async def test_mark_prices_tickers_and_position_tiers() -> None:
    async with fake_venue("okx", seeded()) as (server, ex):
        assert (await ex.fetch_mark_price(BTC))["markPrice"] == 55_000
        assert set(await ex.fetch_mark_prices()) == {BTC, ETH}
        assert (await ex.fetch_ticker(ETH))["last"] == 3_000
        tiers = await ex.fetch_market_leverage_tiers(BTC)
        # ccxt labels OKX minSz/maxSz (contracts) as min/maxNotional
        assert [(t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"]) for t in tiers[:2]] == [
            (0, 2_000, 0.004),
            (2_000, 6_000, 0.006),
        ]
        assert server.requests.last("/api/v5/public/position-tiers").params["instFamily"] == "BTC-USDT"


async def test_add_margin_is_applied_but_ccxt_parser_crashes() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("okx", m) as (_server, ex):
        # ccxt 4.5.90 okx.parse_margin_modification does type['type'] on a str -> TypeError AFTER the POST
        with pytest.raises(TypeError):
            await ex.add_margin(BTC, 100)
        assert m.get_position(BTC).isolated_margin == 11_100
        res = await ex.privatePostAccountPositionMarginBalance(
            {"instId": "BTC-USDT-SWAP", "posSide": "net", "type": "add", "amt": "400"}
        )
        assert res["code"] == "0" and res["data"][0]["type"] == "add"
        assert m.get_position(BTC).isolated_margin == 11_500 and m.balance("futures") == 9_500
        (pos,) = await ex.fetch_positions()
        assert pos["liquidationPrice"] == pytest.approx(okx_lp("long", 100, 0.01, 55_000, 11_500, 0.004))
        with pytest.raises(TypeError):  # same parser bug
            await ex.fetch_margin_adjustment_history(BTC, "add")
        bills = await ex.privateGetAccountBills({"type": "6", "subType": "160"})
        assert [b["sz"] for b in bills["data"]] == ["400", "100"]
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.privatePostAccountPositionMarginBalance(
                {"instId": "BTC-USDT-SWAP", "posSide": "net", "type": "add", "amt": "100000"}
            )


async def test_transfers_funding_to_trading() -> None:
    m = seeded()
    async with fake_venue("okx", m) as (server, ex):
        await ex.transfer("USDT", 200, "funding", "trading")
        await ex.transfer("USDT", 20, "swap", "funding")
        sent = [(r.params["from"], r.params["to"]) for r in server.requests.matching("/api/v5/asset/transfer")]
        assert sent == [("6", "18"), ("18", "6")]
        assert (m.balance("funding"), m.balance("futures")) == (320, 10_180)
        history = await ex.fetch_transfers("USDT")
        assert sorted((t["amount"], t["fromAccount"], t["toAccount"]) for t in history) == [
            (20, "trading", "funding"),
            (200, "funding", "trading"),
        ]
        with pytest.raises(ccxt.InsufficientFunds):  # 58350
            await ex.transfer("USDT", 10**9, "funding", "trading")


async def test_reduce_only_orders_and_lookups() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 50_000, leverage=10, margin_mode="isolated")
    async with fake_venue("okx", m) as (server, ex):
        params = {"reduceOnly": True, "clientOrderId": "g1", "marginMode": "isolated"}
        order = await ex.create_order(BTC, "market", "sell", 40, None, params)
        assert order["clientOrderId"] == "g1"
        assert m.get_position(BTC).contracts == 60
        sent = server.requests.last("/api/v5/trade/batch-orders").json_body[0]
        assert sent["tdMode"] == "isolated" and sent["reduceOnly"] is True and sent["clOrdId"] == "g1"
        assert m.actions_of("order")[0].params["client_order_id"] == "g1"
        assert (await ex.fetch_order(order["id"], BTC))["status"] == "closed"
        assert (await ex.fetch_order(None, BTC, {"clOrdId": "g1"}))["id"] == order["id"]
        (trade,) = await ex.fetch_my_trades(BTC)
        assert trade["amount"] == 40 and float(trade["info"]["fillPnl"]) == pytest.approx(0.4 * 5_000)
        # default tdMode is cross: there is no cross position to reduce -> 51169 (ExchangeError in ccxt)
        with pytest.raises(ccxt.ExchangeError, match="51169"):
            await ex.create_order(BTC, "market", "sell", 10, None, {"reduceOnly": True})
        with pytest.raises(ccxt.InsufficientFunds, match="51008"):
            await ex.create_order(ETH, "market", "buy", 100_000, None)
        limit = await ex.create_order(ETH, "limit", "buy", 10, 2_500)
        assert [o["id"] for o in await ex.fetch_open_orders(ETH)] == [limit["id"]]


async def test_hedge_mode() -> None:
    m = seeded()
    async with fake_venue("okx", m) as (server, ex):
        assert (await ex.fetch_position_mode())["hedged"] is False
        await ex.privatePostAccountSetPositionMode({"posMode": "long_short_mode"})
        assert (await ex.fetch_position_mode())["hedged"] is True
        await ex.create_order(BTC, "market", "buy", 10, None, {"posSide": "long"})
        await ex.create_order(BTC, "market", "sell", 5, None, {"posSide": "short"})
        await ex.create_order(BTC, "market", "sell", 4, None, {"hedged": True, "reduceOnly": True})
        assert [r.json_body[0]["posSide"] for r in server.requests.matching("/api/v5/trade/batch-orders")] == [
            "long",
            "short",
            "long",
        ]
        assert {(p["side"], p["contracts"]) for p in await ex.fetch_positions()} == {("long", 6), ("short", 5)}


async def test_auth_passphrase_and_clock() -> None:
    for config, code in (({"secret": "wrong"}, "50113"), ({"password": "wrong"}, "50105")):
        async with fake_venue("okx", seeded(), config=config) as (server, ex):
            with pytest.raises(ccxt.AuthenticationError, match=code):
                await ex.fetch_balance()
    async with fake_venue("okx", seeded()) as (server, ex):
        await ex.load_markets()
        server.clock_offset_ms = 45_000
        with pytest.raises(ccxt.InvalidNonce, match="50102"):
            await ex.fetch_positions()
        await ex.load_time_difference()
        assert await ex.fetch_positions() == []


async def test_faults() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 55_000, leverage=5, margin_mode="isolated")
    async with fake_venue("okx", m, config={"timeout": 500}) as (server, ex):
        await ex.load_markets()
        path = "/api/v5/account/positions"
        # 429 + {"code":"50011"} -> RateLimitExceeded; a bare 429 maps to ExchangeNotAvailable in okx.httpExceptions
        for kind, bare, exc in (
            ("http_429", False, ccxt.RateLimitExceeded),
            ("http_429", True, ccxt.ExchangeNotAvailable),
            ("http_5xx", False, ccxt.ExchangeNotAvailable),
            ("auth_error", False, ccxt.AuthenticationError),
            ("nonce_error", False, ccxt.InvalidNonce),
        ):
            server.faults.arm(path, kind, bare=bare)
            with pytest.raises(exc) as info:
                await ex.fetch_positions()
            assert bare is False or not isinstance(info.value, ccxt.RateLimitExceeded)
        for kind in ("malformed_json", "empty_body"):
            server.faults.arm(path, kind)
            assert await ex.fetch_positions() == []
        server.faults.arm("/api/v5/trade/batch-orders", "apply_then_timeout", seconds=3)
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(
                BTC, "market", "sell", 50, None, {"reduceOnly": True, "marginMode": "isolated", "clientOrderId": "t1"}
            )
        assert m.get_position(BTC).contracts == 50
        assert (await ex.fetch_order(None, BTC, {"clOrdId": "t1"}))["status"] == "closed"


async def test_crash_liquidates_isolated_position() -> None:
    m = seeded()
    m.open_position(BTC, "long", 100, 55_000, leverage=5, margin_mode="isolated")
    lp = okx_lp("long", 100, 0.01, 55_000, 11_000, 0.004)
    m.script(BTC, [lp + 1, lp - 1])
    async with fake_venue("okx", m) as (_server, ex):
        m.step()
        assert len(await ex.fetch_positions()) == 1
        m.step()
        assert await ex.fetch_positions() == [] and m.liquidations[0].liquidation_price == pytest.approx(lp)
