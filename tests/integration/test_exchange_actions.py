"""Live actions end to end: the engine (live mode) guards an account on the fake Binance / Bybit /
OKX, a scripted crash drives the position through the tiers, and the action arrives at the fake
with the right parameters, is journalled once with the client id the fake saw, and the engine's
re-snapshot right after acting shows the position at the rule's target."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.exchanges.bybit import transfer_uuid
from bot.risk.escalation import RiskTier
from tests.integration.exchange_support import (
    BTC,
    CLIENT_ID_FIELD,
    DELEVERAGE,
    MARGIN,
    ONE_BTC,
    ORDER,
    TOP_UP,
    TRANSFER,
    VENUES,
    cycle_at,
    live_app,
    market_for,
    only_action,
)

pytestmark = pytest.mark.timeout(20)


def margin_amount(venue: str, params: dict[str, object]) -> float:
    return float(str(params["amount" if venue == "binance" else "margin" if venue == "bybit" else "amt"]))


@pytest.mark.parametrize("venue", VENUES)
async def test_crash_escalates_and_tops_up_isolated_to_target(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=TOP_UP) as (server, app):
        tiers = []
        for price in (60_000, 57_000, 54_000, 52_000, 51_000):
            result = await cycle_at(app, market, price)
            assert result.error is None and result.risk is not None and not result.risk.untrusted
            tiers.append(result.risk.positions[0].tier)
        assert tiers == [RiskTier.OK, RiskTier.OK, RiskTier.WATCH, RiskTier.WARNING, RiskTier.DANGER]
        row = only_action(app)
        assert (row.kind, row.status, row.mode, row.source) == ("top_up", "done", "live", "futures")
        (sent,) = server.requests.matching(MARGIN[venue], "POST")
        assert margin_amount(venue, sent.params) == pytest.approx(row.filled)
        (change,) = market.actions_of("margin")
        assert (
            change.applied and change.params["kind"] == "add" and change.params["amount"] == pytest.approx(row.filled)
        )
        # the engine's re-snapshot right after acting: at the target (amounts are rounded up to 0.01)
        assert row.distance_after == pytest.approx(12.0, abs=0.01) and row.distance_after >= 12.0 - 1e-9
        assert market.liquidations == []


@pytest.mark.parametrize("venue", VENUES)
async def test_isolated_top_up_from_funding_transfers_first(tmp_path: Path, venue: str) -> None:
    market = market_for(venue, futures=0.0)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    rules = [{**TOP_UP[1], "source": ["funding"]}]
    async with live_app(tmp_path, market, venue, rules=rules) as (_server, app):
        for price in (60_000, 55_000, 51_000):
            await cycle_at(app, market, price)
        row = only_action(app)
        assert (row.kind, row.status, row.source) == ("top_up", "done", "funding")
        (transfer,) = market.actions_of("transfer")
        assert (transfer.params["from"], transfer.params["to"]) == ("funding", "futures")
        assert transfer.params["amount"] == pytest.approx(row.filled)
        expected_type = {"binance": "FUNDING_UMFUTURE", "bybit": "FUND->UNIFIED", "okx": "6->18"}[venue]
        assert transfer.params["venue_type"] == expected_type
        if venue == "okx":
            assert transfer.params["client_id"] == row.client_id
        (change,) = market.actions_of("margin")
        assert change.params["amount"] == pytest.approx(row.filled)
        assert market.actions.index(transfer) < market.actions.index(change)
        assert row.distance_after == pytest.approx(12.0, abs=0.01)


@pytest.mark.parametrize("venue", VENUES)
async def test_cross_top_up_is_a_whitelisted_transfer(tmp_path: Path, venue: str) -> None:
    market = market_for(venue, futures=8_000.0)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=10, margin_mode="cross")
    source = "spot" if venue == "binance" else "funding"
    rules = [{**TOP_UP[1], "source": [source]}]
    async with live_app(tmp_path, market, venue, rules=rules) as (server, app):
        result = await cycle_at(app, market, 60_000)
        assert result.risk is not None and result.risk.positions[0].margin_mode == "cross"
        for price in (58_000, 56_500, 55_500):
            result = await cycle_at(app, market, price)
            assert result.error is None
        row = only_action(app)
        assert (row.kind, row.status, row.source, row.margin_mode) == ("top_up", "done", source, "cross")
        (sent,) = server.requests.matching(TRANSFER[venue], "POST")
        if venue == "binance":
            assert sent.params["type"] == "MAIN_UMFUTURE"
        elif venue == "bybit":
            assert (sent.params["fromAccountType"], sent.params["toAccountType"]) == ("FUND", "UNIFIED")
            assert sent.params["transferId"] == transfer_uuid(row.client_id)  # our client id, as a UUID
        else:
            assert (sent.params["from"], sent.params["to"], sent.params["clientId"]) == ("6", "18", row.client_id)
        assert market.actions_of("margin") == [] and market.balance("futures") == pytest.approx(8_000 + row.filled)
        assert row.distance_after == pytest.approx(12.0, abs=0.01)


@pytest.mark.parametrize("venue", VENUES)
async def test_critical_reduce_is_reduce_only_and_retains_margin(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    async with live_app(tmp_path, market, venue, rules=DELEVERAGE) as (server, app):
        for price in (60_000, 55_000, 50_000, 49_500):
            result = await cycle_at(app, market, price)
            assert result.error is None
        row = only_action(app)
        assert (row.kind, row.status, row.retain_margin) == ("reduce", "done", True)
        (order,) = market.actions_of("order")
        assert order.params["reduce_only"] and order.params["side"] == "sell"
        assert order.params["client_order_id"] == row.client_id
        assert order.params["contracts"] == pytest.approx(row.filled)
        sent = server.requests.last(ORDER[venue], "POST")
        raw = sent.json_body[0] if venue == "okx" else sent.params
        assert raw[CLIENT_ID_FIELD[venue]] == row.client_id
        assert float(raw["px" if venue == "okx" else "price"]) == pytest.approx(49_500 * 0.99, abs=0.1)  # slippage cap
        if venue == "okx":
            assert raw["tdMode"] == "isolated" and raw["ordType"] == "ioc"
        else:
            assert raw["timeInForce"] == "IOC"
        # the released margin went back into the position: the whole margin keeps backing the rest
        (retained,) = market.actions_of("margin")
        assert retained.params["kind"] == "add" and market.actions.index(order) < market.actions.index(retained)
        assert row.distance_after == pytest.approx(8.0, abs=0.1) and row.distance_after >= 8.0 - 1e-6
        position = market.get_position(BTC)
        assert position is not None and position.contracts == pytest.approx(ONE_BTC[venue] - row.filled)


@pytest.mark.parametrize("venue", VENUES)
async def test_hedge_leg_in_hedge_mode_then_unwind(tmp_path: Path, venue: str) -> None:
    market = market_for(venue)
    market.hedge_mode = True
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000, leverage=5, margin_mode="isolated")
    rules = [{"name": "hedge", "strategy": "hedge", "at": "danger", "target_net_exposure_pct": 50, "unwind_at": "ok"}]
    # The cap lets one 50 % leg through per cycle: the engine asks the hedge rule again after a
    # hedge within the same cycle without counting the leg just opened (see the report).
    guard = {"max_action_quote": 25_600, "min_action_quote": 200}
    account = {"hedge_mode": True}
    async with live_app(tmp_path, market, venue, rules=rules, account=account, guard=guard) as (server, app):
        for price in (60_000, 55_000, 51_000):
            await cycle_at(app, market, price)
        hedge = only_action(app)
        assert (hedge.kind, hedge.status, hedge.filled) == ("hedge", "done", pytest.approx(ONE_BTC[venue] / 2))
        short = market.get_position(BTC, "short")
        assert short is not None and short.contracts == pytest.approx(ONE_BTC[venue] / 2)
        sent = server.requests.last(ORDER[venue], "POST")
        raw = sent.json_body[0] if venue == "okx" else sent.params
        assert raw[CLIENT_ID_FIELD[venue]] == hedge.client_id
        if venue == "binance":
            assert raw["positionSide"] == "SHORT" and raw["side"] == "SELL" and "reduceOnly" not in raw
        elif venue == "bybit":
            assert raw["positionIdx"] == 2 and raw["side"] == "Sell" and not raw.get("reduceOnly")
        else:
            assert raw["posSide"] == "short" and raw["side"] == "sell" and "reduceOnly" not in raw
        for price in (56_000, 60_000):  # recovered: the hedge comes off
            await cycle_at(app, market, price)
        unwinds = [r for r in app.store.actions(account="acct") if r.kind == "unwind"]
        (unwind,) = [r for r in unwinds if r.status == "done"]
        # The engine asks the rule again in the same cycle with the hedge it just closed still
        # counted (see the report); that second unwind is refused here and reaches no venue.
        assert all(r.status == "failed" and "no " in (r.error or "") for r in unwinds if r is not unwind)
        assert len(market.actions_of("order")) == 2  # the hedge and one closing order
        assert market.get_position(BTC, "short") is None
        closing = server.requests.last(ORDER[venue], "POST")
        raw = closing.json_body[0] if venue == "okx" else closing.params
        assert raw[CLIENT_ID_FIELD[venue]] == unwind.client_id
        if venue == "binance":  # hedge mode: positionSide alone makes it close (reduceOnly is refused)
            assert raw["positionSide"] == "SHORT" and raw["side"] == "BUY" and "reduceOnly" not in raw
        elif venue == "bybit":
            assert raw["positionIdx"] == 2 and raw["side"] == "Buy" and raw["reduceOnly"] is True
        else:
            assert raw["posSide"] == "short" and raw["side"] == "buy"
        long = market.get_position(BTC, "long")
        assert long is not None and long.contracts == ONE_BTC[venue]
