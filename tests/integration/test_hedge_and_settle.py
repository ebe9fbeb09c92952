"""Hedges on a cross account in hedge mode (one leg per response, unwound once, recognised after
a restart) and settling an unknown outcome by hand."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import build_app
from bot.domain import Action, ActionKind, ActionResult
from bot.exchanges.paper import PaperExchange
from bot.notify.console import ConsoleNotifier
from bot.risk.escalation import RiskTier
from tests.conftest import ROOT, SimClock, paper_settings


def hedge_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return paper_settings(
        tmp_path,
        rules=[
            {"strategy": "alert", "at": "watch"},
            {"name": "hedge", "strategy": "hedge", "at": "critical", "target_net_exposure_pct": 50, "unwind_at": "ok"},
        ],
        guard={"max_action_quote": 1e6, "max_daily_quote_per_account": 1e7, "max_daily_quote_global": 1e7,
               "kill_switch_file": None},
        accounts=[{
            "name": "acct", "exchange": "paper", "hedge_mode": True,
            "paper": {"wallet": {"futures": {"USDT": 4000.0}},
                      "positions": [{"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0,
                                     "entry_price": 60000.0, "margin_mode": "cross", "leverage": 20,
                                     "position_side": "long"}],
                      "price_path": {"kind": "flat"}, "taker_fee": 0.0},
        }],
    )


async def test_hedge_rule_opens_one_leg_per_response_and_unwinds_once(tmp_path: Path, clock: SimClock) -> None:
    settings = hedge_settings(tmp_path)
    app = build_app(settings, notifier=ConsoleNotifier(file=io.StringIO()), clock=clock)
    paper = app.adapters["acct"]
    assert isinstance(paper, PaperExchange)

    async def cycle(price: float):  # type: ignore[no-untyped-def]
        clock.advance(10)
        paper.set_mark("BTC/USDT:USDT", price)
        return await app.engine.run_cycle("acct")

    await cycle(60000)
    before = paper.liquidation_price_of(paper.positions[("BTC/USDT:USDT", "long", "long")])
    result = await cycle(57300)  # cross: wallet 4000 on a 60k long -> critical
    assert result.risk.positions[0].tier is RiskTier.CRITICAL
    assert [r.kind for r in result.actions] == ["hedge"]
    leg = paper.positions[("BTC/USDT:USDT", "short", "short")]
    assert leg.contracts == pytest.approx(0.5) and leg.is_hedge_leg  # 50% net exposure, not 100%
    after = paper.liquidation_price_of(paper.positions[("BTC/USDT:USDT", "long", "long")])
    assert after is not None and before is not None and after < before  # the shared pool moved it away
    result = await cycle(57300)
    assert result.actions == []  # the hedge is there: nothing more
    clock.advance(400)  # past the cooldown: unwinding right after hedging would whipsaw
    result = await cycle(60000)
    assert result.risk.positions[0].tier > RiskTier.OK and result.actions == []  # not calm yet
    result = await cycle(66000)  # back to ok (past the hysteresis band): unwind once
    assert result.risk.positions[0].tier is RiskTier.OK
    assert [r.kind for r in result.actions] == ["unwind"]
    assert ("BTC/USDT:USDT", "short", "short") not in paper.positions
    result = await cycle(70000)  # the realised hedge loss leaves it at watch: nothing to do
    assert result.actions == []
    assert app.store.hedged_contracts("acct") == {}
    await app.close()


async def test_hedge_legs_are_recognised_from_the_journal_after_a_restart(tmp_path: Path, clock: SimClock) -> None:
    settings = hedge_settings(tmp_path)
    app = build_app(settings, notifier=ConsoleNotifier(file=io.StringIO()), clock=clock)
    hedge = Action(kind=ActionKind.HEDGE, account="acct", symbol="BTC/USDT:USDT", side="long", position_side="long",
                   amount=0.5, rule="hedge", strategy="hedge", reason="t", tier=RiskTier.CRITICAL)
    row = app.store.record_intent(hedge, client_id="mghedge1", mode="live")
    assert row.id is not None
    app.store.record_result(row.id, ActionResult(status="done", filled=0.5))
    await app.close()
    app2 = build_app(settings, notifier=ConsoleNotifier(file=io.StringIO()), clock=clock)
    paper = app2.adapters["acct"]
    assert isinstance(paper, PaperExchange)
    snapshot = paper.current_snapshot()
    unmarked = snapshot.positions[0]
    from dataclasses import replace

    as_venue_reports = replace(snapshot, positions=(unmarked, replace(unmarked, side="short", position_side="short")))
    marked = app2.engine._mark_hedge_legs(as_venue_reports)
    assert [p.is_hedge_leg for p in marked.positions] == [False, True]
    await app2.close()


def test_settle_command_resolves_an_unknown_outcome(tmp_path: Path) -> None:
    from bot.store import Store

    store = Store(tmp_path / "marginguard.db")
    action = Action(kind=ActionKind.TOP_UP, account="demo", symbol="BTC/USDT:USDT", side="long", position_side="both",
                    amount=10.0, rule="top-up", reason="t", tier=RiskTier.DANGER, currency="USDT")
    row = store.record_intent(action, client_id="mgunknown1", mode="live")
    assert row.id is not None
    store.record_result(row.id, ActionResult(status="unknown", error="timed out"))
    store.close()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "bot", "settle", str(row.id), "failed", "--note", "not in history"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    again = subprocess.run([sys.executable, "-m", "bot", "settle", str(row.id), "done"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already failed" in again.stderr
    hist = subprocess.run([sys.executable, "-m", "bot", "history", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    settled = json.loads(hist.stdout)["actions"][0]
    assert settled["status"] == "failed" and settled["error_kind"] == "manual" and "not in history" in settled["error"]
