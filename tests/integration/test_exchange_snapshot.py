"""Snapshots built from each venue's replies: our recomputed liquidation price agrees with the
venue's (Binance mark-tiered, Bybit fixed at entry, OKX by size + taker fee), reported 0 / "" is
"none given", the account ratio follows each venue's definition, and the adapter's own
construction (config merge, limiter, no retries, Binance error table) is what production gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ccxt
import pytest

from bot.assess import AssessConfig, assess
from bot.exchanges.ccxt_adapter import CcxtAdapter, deep_merge, to_step
from bot.settings import AccountSettings, PollSettings
from tests.fakes.exchange import FakeExchangeServer, FakeMarket
from tests.integration.exchange_support import BTC, ETH, VENUES, account_config, market_for

pytestmark = pytest.mark.timeout(20)


@asynccontextmanager
async def adapter_on(market: FakeMarket, venue: str, **account: Any) -> AsyncIterator[tuple[Any, CcxtAdapter]]:
    async with FakeExchangeServer(venue, market) as server:  # type: ignore[arg-type]
        adapter = CcxtAdapter(AccountSettings(**account_config(server, **account)), PollSettings())
        try:
            yield server, adapter
        finally:
            await adapter.close()


# (symbol, side, BTC or ETH quantity, entry, leverage, mark): several tiers on each venue
CASES = [
    (BTC, "long", 1.0, 60_000, 5, 60_000),
    (BTC, "short", 0.5, 60_000, 20, 61_000),
    (BTC, "long", 30.0, 60_000, 10, 59_000),  # Binance bracket 3; OKX size tier 2 (20-60 BTC)
    (ETH, "short", 400.0, 3_000, 25, 2_990),  # ETH notional 1.2M; OKX size tier 1 (< 500 ETH)
]


@pytest.mark.parametrize("venue", VENUES)
async def test_recomputed_liquidation_matches_the_venue_isolated(venue: str) -> None:
    for symbol, side, qty, entry, leverage, mark in CASES:
        market = market_for(venue, futures=10_000_000.0)
        market.set_mark(symbol, mark)
        contracts = qty / market.instrument(symbol).contract_size
        market.open_position(symbol, side, contracts, entry, leverage=leverage, margin_mode="isolated")  # type: ignore[arg-type]
        async with adapter_on(market, venue) as (_server, adapter):
            snapshot = await adapter.snapshot()
        (p,) = snapshot.positions
        assert p.margin_mode == "isolated" and p.contracts == pytest.approx(contracts)
        assert p.collateral == pytest.approx(qty * entry / leverage)
        assert p.liquidation_model == ("entry_fixed" if venue == "bybit" else "mark_tiered")
        (risk,) = assess(snapshot, AssessConfig(), snapshot.fetched_at).positions
        assert risk.liquidation_price_reported is not None
        # Bybit rounds liqPrice to 2 decimals
        assert risk.liquidation_price_recomputed == pytest.approx(risk.liquidation_price_reported, rel=2e-6), (
            venue,
            symbol,
            qty,
        )


@pytest.mark.parametrize("venue", VENUES)
async def test_cross_positions_and_the_account_ratio(venue: str) -> None:
    market = market_for(venue, futures=20_000.0)
    market.open_position(BTC, "long", 1.0 / market.instrument(BTC).contract_size, 60_000, margin_mode="cross")
    market.open_position(ETH, "short", 10 / market.instrument(ETH).contract_size, 3_000, margin_mode="isolated")
    market.set_mark(BTC, 57_000)
    async with adapter_on(market, venue) as (_server, adapter):
        snapshot = await adapter.snapshot()
        raw: dict[str, Any]
        if venue == "binance":
            raw = await adapter.ex.fapiPrivateV3GetAccount()
            expected = float(raw["totalMaintMargin"]) / float(raw["totalMarginBalance"])
        elif venue == "bybit":
            raw = (await adapter.ex.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"}))["result"]["list"][0]
            expected = float(raw["accountMMRate"])
        else:
            raw = (await adapter.ex.privateGetAccountBalance())["data"][0]
            expected = 1.0 / float(raw["mgnRatio"])
    assert snapshot.account_margin_ratio == pytest.approx(expected)
    assert snapshot.cross_wallet["USDT"] == pytest.approx(market.cross_wallet())  # isolated wallets excluded
    cross = next(p for p in snapshot.positions if p.symbol == BTC)
    assert cross.margin_mode == "cross" and cross.collateral is None
    risk = assess(snapshot, AssessConfig(), snapshot.fetched_at)
    (btc,) = [r for r in risk.positions if r.symbol == BTC]
    truth = market.liquidation_price(market.get_position(BTC))  # type: ignore[arg-type]
    if venue == "binance":
        assert btc.liquidation_price_reported == pytest.approx(truth)
        assert btc.liquidation_price_recomputed == pytest.approx(truth, rel=1e-7)
    else:  # Bybit / OKX report "" in cross: ours speaks alone (OKX: closing fee included, a bit earlier)
        assert btc.liquidation_price_reported is None and btc.liquidation_source == "recomputed"
        wallet = market.cross_wallet()
        mmr = 0.004 if venue == "bybit" else 0.004 + 0.0005
        assert btc.liquidation_price_recomputed == pytest.approx((wallet - 60_000) / (mmr - 1), rel=1e-6)
    assert not risk.untrusted


async def test_binance_reports_zero_when_no_liquidation_is_possible() -> None:
    market = market_for("binance", futures=100_000.0)
    market.open_position(BTC, "long", 1.0, 60_000, margin_mode="cross")
    async with adapter_on(market, "binance") as (_server, adapter):
        snapshot = await adapter.snapshot()
    (p,) = snapshot.positions
    assert p.liquidation_price_reported is None
    (risk,) = assess(snapshot, AssessConfig(), snapshot.fetched_at).positions
    assert risk.liquidation_source == "none" and risk.liquidation_price is None


async def test_okx_tiers_are_by_size_and_include_the_taker_fee() -> None:
    market = market_for("okx", futures=10_000_000.0)
    market.open_position(BTC, "long", 3_000, 60_000, leverage=10, margin_mode="isolated")  # 30 BTC
    async with adapter_on(market, "okx") as (_server, adapter):
        snapshot = await adapter.snapshot()
        ccxt_tiers = await adapter.ex.fetch_market_leverage_tiers(BTC)
    (p,) = snapshot.positions
    assert p.tiers is not None and len(p.tiers) == 1
    assert p.tiers[0].maintenance_margin_rate == pytest.approx(0.006 + 0.0005)  # tier 20-60 BTC, + taker
    # ccxt calls the contract bounds "notional": read as USDT they would put 1.8M of notional in tier 1
    assert ccxt_tiers[0]["maxNotional"] == 2_000


async def test_bybit_classic_account_uses_contract_wallet_and_spot_transfers() -> None:
    market = market_for("bybit")
    async with FakeExchangeServer("bybit", market, bybit_unified=False) as server:
        adapter = CcxtAdapter(AccountSettings(**account_config(server)), PollSettings())
        try:
            snapshot = await adapter.snapshot()
            assert server.requests.last("*/wallet-balance").params["accountType"] in ("CONTRACT", "SPOT")
            assert snapshot.free("spot", "USDT") == 5_000 and snapshot.free("funding", "USDT") == 5_000
        finally:
            await adapter.close()


@pytest.mark.parametrize("venue", VENUES)
async def test_construction_defaults_and_passthrough(venue: str) -> None:
    async with FakeExchangeServer(venue, market_for(venue)) as server:  # type: ignore[arg-type]
        account = account_config(server)
        account["ccxt"] = deep_merge(server.ccxt_config(), {"options": {"recvWindow": 7000}})
        for key in ("apiKey", "secret", "password", "enableRateLimit"):
            account["ccxt"].pop(key, None)
        account["ccxt"]["options"]["maxRetriesOnFailure"] = 5  # never honoured
        adapter = CcxtAdapter(AccountSettings(**account), PollSettings(request_timeout_s=7))
        try:
            ex = adapter.ex
            assert ex.enableRateLimit is True and ex.timeout == 7000
            assert ex.options["maxRetriesOnFailure"] == 0
            assert ex.options["defaultType"] == "swap" and ex.options["recvWindow"] == 7000
            assert ex.apiKey == server.api_key and ex.urls["api"] == server.ccxt_config()["urls"]["api"]
            if venue == "binance":  # per-market codes map against any host (loopback, testnet, proxy)
                assert ex.exceptions["exact"]["-2019"] is ccxt.InsufficientFunds
                assert ex.exceptions["exact"]["-2022"] is ccxt.InvalidOrder
        finally:
            await adapter.close()


def test_rounding_helpers() -> None:
    import math

    assert to_step(0.30000000001, 0.001, math.ceil) == 0.3
    assert to_step(0.3001, 0.001, math.ceil) == 0.301
    assert to_step(49_005.04, 0.1, math.ceil) == 49_005.1
    assert to_step(49_005.04, 0.1, math.floor) == 49_005.0
    assert to_step(12.345, 0.01, round) == 12.35 or to_step(12.345, 0.01, round) == 12.34


async def test_generic_fallback_for_other_ids_uses_unified_calls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.errors import ActionRejected
    from bot.exchanges import ccxt_adapter
    from bot.exchanges.venue import Venue

    monkeypatch.setattr(ccxt_adapter, "VENUES", {})  # as for a ccxt id without a quirk file
    market = market_for("binance")
    market.open_position(BTC, "long", 1.0, 60_000, leverage=5, margin_mode="isolated")
    async with adapter_on(market, "binance") as (server, adapter):
        assert type(adapter.venue) is Venue
        snapshot = await adapter.snapshot()
        (p,) = snapshot.positions
        assert (p.symbol, p.side, p.contracts, p.margin_mode) == (BTC, "long", 1.0, "isolated")
        assert p.collateral is None and p.liquidation_price_reported == pytest.approx(48_192.77, abs=0.01)
        (risk,) = assess(snapshot, AssessConfig(), snapshot.fetched_at).positions
        assert risk.liquidation_source == "reported"  # no trusted isolated wallet: the venue's figure alone
        server.faults.arm("/fapi/v3/positionRisk", "malformed_json")
        snapshot = await adapter.snapshot()
        assert snapshot.positions == () and any("unparseable" in w for w in snapshot.warnings)
        with pytest.raises(ActionRejected):  # no verified account names: transfers are refused
            await adapter.venue.transfer("USDT", 10, "spot", "mgtest")
