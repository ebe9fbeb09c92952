"""The engine end to end on the paper exchange: real strategies, guard, journal (SQLite file)
and console notifier; a simulated clock drives cooldowns and cadences."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.app import build_app
from bot.exchanges.paper import PaperExchange
from bot.notify.console import ConsoleNotifier
from bot.risk import liquidation_price
from bot.risk.escalation import RiskTier
from tests.conftest import SimClock, paper_settings


def make(tmp_path: Path, clock: SimClock, **overrides: object):  # type: ignore[no-untyped-def]
    settings = paper_settings(tmp_path, **overrides)
    notifier = ConsoleNotifier(file=io.StringIO(), clock=clock)
    app = build_app(settings, notifier=notifier, clock=clock)
    notifier.store = app.store
    paper = app.adapters["acct"]
    assert isinstance(paper, PaperExchange)
    return app, paper, notifier


async def step_to(app, paper: PaperExchange, clock: SimClock, price: float):  # type: ignore[no-untyped-def]
    clock.advance(app.settings.poll.interval_s)
    paper.set_mark("BTC/USDT:USDT", price)
    return await app.engine.run_cycle("acct")


async def test_crash_escalates_through_tiers_and_tops_up_to_target(tmp_path: Path, clock: SimClock) -> None:
    app, paper, notifier = make(tmp_path, clock)
    tiers = []
    for price in (60000, 56000, 53000, 51000):
        result = await step_to(app, paper, clock, price)
        assert result.error is None
        tiers.append(result.risk.positions[0].tier)
    assert tiers == [RiskTier.OK, RiskTier.WATCH, RiskTier.WARNING, RiskTier.DANGER]
    kinds = [a.kind for a in notifier.sent]
    assert kinds.count("escalation") == 3
    # At danger the top-up rule fired: 1000 from futures (per-action cap) ...
    rows = list(reversed(app.store.actions(account="acct")))
    assert [r.kind for r in rows] == ["top_up"]
    top_up = rows[0]
    assert top_up.status == "done" and top_up.mode == "paper" and top_up.source == "futures"
    assert top_up.amount == pytest.approx(1000.0)
    # ... and the journal's measured distance after equals the projection made before acting.
    assert top_up.distance_after == pytest.approx(top_up.expected_distance_after, rel=1e-9)
    pos = next(iter(paper.positions.values()))
    assert pos.isolated_margin == pytest.approx(6000.0 + 1000.0)
    lp = liquidation_price("long", pos.contracts, pos.entry_price, pos.isolated_margin, pos.tiers)
    assert lp == pytest.approx(app.engine.latest["acct"].positions[0].liquidation_price, rel=1e-12)
    await app.close()


async def test_uncapped_top_up_lands_exactly_on_target(tmp_path: Path, clock: SimClock) -> None:
    app, paper, _ = make(tmp_path, clock, guard={"max_action_quote": 100000, "kill_switch_file": None})
    await step_to(app, paper, clock, 60000)
    await step_to(app, paper, clock, 51000)
    row = app.store.actions(account="acct")[0]
    assert row.kind == "top_up" and row.status == "done"
    assert row.distance_after == pytest.approx(12.0, rel=1e-9)
    await app.close()


async def test_critical_reduce_covers_what_capped_top_up_could_not(tmp_path: Path, clock: SimClock) -> None:
    app, paper, _ = make(tmp_path, clock)
    await step_to(app, paper, clock, 60000)
    await step_to(app, paper, clock, 48800)  # straight to critical (1.2% from liquidation)
    rows = list(reversed(app.store.actions(account="acct")))
    assert [r.kind for r in rows] == ["top_up", "reduce"]
    assert sum(r.quote_value for r in rows if r.kind == "top_up") == pytest.approx(1000.0)  # capped per cycle
    reduce = rows[-1]
    assert reduce.retain_margin and reduce.status == "done"
    assert reduce.distance_after == pytest.approx(8.0, rel=1e-9)
    assert next(iter(paper.positions.values())).contracts == pytest.approx(0.5 - reduce.filled)
    await app.close()


async def test_cooldown_holds_at_same_tier_but_a_worse_tier_overrides_it(tmp_path: Path, clock: SimClock) -> None:
    app, paper, _ = make(tmp_path, clock)
    await step_to(app, paper, clock, 60000)
    await step_to(app, paper, clock, 51000)  # danger: top-up
    await step_to(app, paper, clock, 49000)  # danger again, within cooldown: refused
    assert len(app.store.actions(account="acct")) == 1
    result = await step_to(app, paper, clock, 47300)  # critical: overrides the cooldown
    assert result.risk.positions[0].tier is RiskTier.CRITICAL
    assert len(app.store.actions(account="acct")) > 1
    await app.close()


async def test_pause_and_kill_switch_stop_actions_but_not_alerts(tmp_path: Path, clock: SimClock) -> None:
    app, paper, notifier = make(tmp_path, clock)
    app.engine.pause("test")
    await step_to(app, paper, clock, 60000)
    result = await step_to(app, paper, clock, 51000)
    assert app.store.actions() == []
    assert any(v.code == "paused" for v in result.refused)
    assert any(a.kind == "escalation" and a.tier == "danger" for a in notifier.sent)
    app.engine.resume()
    (tmp_path / "pause").write_text("stop")
    result = await step_to(app, paper, clock, 50900)
    assert app.store.actions() == [] and any(v.code == "paused" for v in result.refused)
    (tmp_path / "pause").unlink()
    await step_to(app, paper, clock, 50800)
    assert len(app.store.actions()) == 1
    await app.close()


async def test_mark_jump_is_not_acted_on(tmp_path: Path, clock: SimClock) -> None:
    app, paper, notifier = make(tmp_path, clock, escalation={"max_mark_jump_pct": 10})
    await step_to(app, paper, clock, 60000)
    result = await step_to(app, paper, clock, 51000)  # -15% in one poll: bad data or a real crash
    assert result.risk.untrusted and app.store.actions() == []
    assert any("not acting on this data" in a.text for a in notifier.sent)
    result = await step_to(app, paper, clock, 51000)  # confirmed on the next poll: act
    assert not result.risk.untrusted
    assert app.store.actions()
    await app.close()


async def test_stale_snapshot_is_not_acted_on(tmp_path: Path, clock: SimClock) -> None:
    app, paper, _ = make(tmp_path, clock)
    await step_to(app, paper, clock, 60000)
    real_clock = paper.clock
    paper.clock = lambda: clock.now - 3600  # the venue's data is an hour old
    result = await step_to(app, paper, clock, 51000)
    paper.clock = real_clock
    assert any("old" in u for u in result.risk.untrusted)
    assert app.store.actions() == []
    await app.close()


async def test_restart_keeps_tiers_and_does_not_repeat_alerts_or_actions(tmp_path: Path, clock: SimClock) -> None:
    app, paper, _ = make(tmp_path, clock)
    await step_to(app, paper, clock, 60000)
    await step_to(app, paper, clock, 53000)  # warning
    await app.close()
    app2, paper2, notifier2 = make(tmp_path, clock)
    await step_to(app2, paper2, clock, 53000)
    assert [a.kind for a in notifier2.sent if a.kind == "escalation"] == []  # no repeat of "warning"
    await app2.close()


async def test_intent_left_by_a_crash_is_reconciled_and_not_repeated(tmp_path: Path, clock: SimClock) -> None:
    from bot.domain import Action, ActionKind

    app, _, _ = make(tmp_path, clock)
    action = Action(
        kind=ActionKind.TOP_UP,
        account="acct",
        symbol="BTC/USDT:USDT",
        side="long",
        position_side="both",
        amount=100.0,
        rule="top-up",
        reason="test",
        tier=RiskTier.DANGER,
        currency="USDT",
        source="futures",
    )
    row = app.store.record_intent(action, client_id="mgcrashtest", mode="paper")  # then the process "died"
    await app.close()
    app2, paper2, notifier2 = make(tmp_path, clock)
    await app2.engine.startup()
    settled = app2.store.action_by_client_id("mgcrashtest")
    assert settled is not None and settled.id == row.id
    assert settled.status == "failed" and "never reached" in (settled.error or "")
    assert any("reconciled" in a.text for a in notifier2.sent)
    assert paper2.applied == {}  # nothing was re-sent
    await app2.close()
