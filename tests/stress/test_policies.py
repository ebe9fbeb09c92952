"""The exchange-side policies on the paper exchange: auto-add-margin and the buffer stop."""

from __future__ import annotations

import pytest

from bot.exchanges.paper import PaperExchange, PaperPosition
from bot.settings import PaperSettings
from bot.stress.policies import AutoAddMargin, BufferStop, margin_ratio_at, parse_policy
from tests.stress.support import SYMBOL, long_10x_liq


def paper(side: str = "long", leverage: float = 10.0, futures: float = 2500.0, spot: float = 0.0) -> PaperExchange:
    cfg = PaperSettings(
        wallet={"futures": {"USDT": futures}, "spot": {"USDT": spot}},
        positions=[{"symbol": SYMBOL, "side": side, "contracts": 100.0, "entry_price": 100.0, "leverage": leverage}],
        price_path={"kind": "flat"},
    )
    return PaperExchange("t", cfg, clock=lambda: 0.0, follow_clock=False)


def position(p: PaperExchange) -> PaperPosition:
    return next(iter(p.positions.values()))


def test_auto_add_replenishes_one_initial_margin_when_the_price_reaches_liquidation() -> None:
    ex = paper()
    liq = long_10x_liq()
    step = AutoAddMargin()
    assert step(ex, SYMBOL, liq * 1.001, 0.0, "extreme") == []  # near, not there: nothing
    events = step(ex, SYMBOL, liq, 0.0, "extreme")
    assert [e.amount for e in events] == [pytest.approx(1000.0)]  # entry notional / leverage
    assert position(ex).isolated_margin == pytest.approx(2000.0)
    assert ex.wallets["futures"]["USDT"] == pytest.approx(1500.0)
    assert margin_ratio_at(position(ex), liq) < 1.0 and not ex.check_liquidations({SYMBOL: liq})


def test_auto_add_repeats_until_safe_then_uses_what_is_left_and_the_position_dies_when_it_runs_out() -> None:
    ex = paper(futures=2500.0)
    step = AutoAddMargin()
    events = step(ex, SYMBOL, 65.0, 0.0, "extreme")  # needs > 2,526 more: 1,000 + 1,000 + the last 500
    assert [round(e.amount) for e in events] == [1000, 1000, 500]
    assert ex.free_futures("USDT") == pytest.approx(0.0)
    assert ex.check_liquidations({SYMBOL: 65.0})


def test_auto_add_draws_spot_after_futures_and_stops_at_1x() -> None:
    ex = paper(leverage=2.0, futures=1000.0, spot=100_000.0)
    step = AutoAddMargin()
    events = step(ex, SYMBOL, 1.0, 0.0, "extreme")  # price near zero: would need everything
    assert sum(e.amount for e in events) == pytest.approx(5000.0)  # 5,000 margin + 5,000 added = 1x
    assert position(ex).isolated_margin == pytest.approx(10_000.0)
    assert ex.wallets["spot"]["USDT"] == pytest.approx(96_000.0)


def test_auto_add_trigger_below_one_acts_before_the_liquidation_price() -> None:
    ex = paper()
    liq = long_10x_liq()
    step = AutoAddMargin(trigger_margin_ratio=0.5)
    assert step(ex, SYMBOL, liq * 1.02, 0.0, "extreme") == []  # margin ratio ~17 %
    events = step(ex, SYMBOL, liq * 1.003, 0.0, "extreme")  # ~57 %
    assert len(events) == 1 and "margin ratio 5" in events[0].detail


def test_auto_add_ignores_cross_positions() -> None:
    cfg = PaperSettings(wallet={"futures": {"USDT": 1000.0}},
                        positions=[{"symbol": SYMBOL, "side": "long", "contracts": 100.0, "entry_price": 100.0,
                                    "margin_mode": "cross", "leverage": 10}], price_path={"kind": "flat"})
    ex = PaperExchange("t", cfg, clock=lambda: 0.0, follow_clock=False)
    assert AutoAddMargin()(ex, SYMBOL, 1.0, 0.0, "extreme") == []


@pytest.mark.parametrize("side", ["long", "short"])
def test_buffer_stop_sits_five_percent_of_the_way_from_liquidation_back_to_entry(side: str) -> None:
    ex = paper(side=side)
    stop = BufferStop()
    stop.arm(ex, next(iter(ex.positions)))
    liq = ex.liquidation_price_of(position(ex))
    assert liq is not None and stop.stop_price is not None
    assert stop.stop_price == pytest.approx(liq + 0.05 * (100.0 - liq))
    assert (stop.stop_price > liq) if side == "long" else (stop.stop_price < liq)


def test_buffer_stop_fills_at_its_price_inside_a_bar_and_at_the_open_after_a_gap() -> None:
    ex = paper()
    stop = BufferStop()
    stop.arm(ex, next(iter(ex.positions)))
    assert stop.stop_price is not None
    assert stop(ex, SYMBOL, stop.stop_price + 0.01, 0.0, "open") == []
    [event] = stop(ex, SYMBOL, stop.stop_price - 2.0, 0.0, "extreme")
    assert event.price == stop.stop_price and not ex.positions
    # realised: 100 contracts from 100 down to the stop, fee 0.04 % of the notional there
    expected = 2500.0 + 1000.0 + 100 * (stop.stop_price - 100.0) - 0.0004 * 100 * stop.stop_price
    assert ex.wallets["futures"]["USDT"] == pytest.approx(expected)

    gapped = paper()
    stop = BufferStop()
    stop.arm(gapped, next(iter(gapped.positions)))
    assert stop.stop_price is not None
    open_price = stop.stop_price - 0.3  # through the stop, not through liquidation
    [event] = stop(gapped, SYMBOL, open_price, 0.0, "open")
    assert event.price == open_price and "gapped" in event.detail


def test_a_gap_through_the_liquidation_price_liquidates_before_the_stop() -> None:
    ex = paper()
    stop = BufferStop()
    stop.arm(ex, next(iter(ex.positions)))
    assert stop(ex, SYMBOL, 80.0, 0.0, "open") == []
    assert ex.check_liquidations({SYMBOL: 80.0})


def test_policy_names() -> None:
    assert parse_policy("AMR") == "auto-add-margin" and parse_policy("stop") == "buffer-stop"
    with pytest.raises(ValueError, match="unknown policy"):
        parse_policy("pray")
