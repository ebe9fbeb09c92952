"""Confirmation buttons: anything that moves money waits for a press by the right person, within
the time limit, exactly once; strangers, other users, late and replayed presses change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App
from bot.journal import Confirmation
from tests.fakes.telegram import FakeTelegramServer, SentMessage
from tests.integration.telegram_support import (
    GROUP,
    STRANGER,
    SYMBOL,
    USER,
    USER2,
    command,
    paper_of,
    running_console,
    settle,
    telegram_settings,
)

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


async def at_price(app: App, tg: FakeTelegramServer, price: float) -> None:
    paper_of(app).set_mark(SYMBOL, price)
    assert (await app.engine.run_cycle("acct")).error is None
    await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)


def confirmations(app: App) -> list[Confirmation]:
    with app.store.session() as s:
        return list(s.exec(select(Confirmation)))


async def press(tg: FakeTelegramServer, user: int, msg: SentMessage, data: str, *, check: bool = True) -> str | None:
    """Press a button and return the callback answer's text (once answered)."""
    n = len(tg.answered_callbacks)
    query_id = tg.press_button(user, msg.chat_id, msg.message_id, data, check_keyboard=check, username=f"u{user}")
    await tg.wait_for(lambda: len(tg.answered_callbacks) > n, timeout=5)
    [answer] = [a for a in tg.answered_callbacks if a.callback_query_id == query_id]
    return answer.text


def current(tg: FakeTelegramServer, msg: SentMessage) -> dict[str, object]:
    return tg.message(msg.chat_id, msg.message_id)


async def test_topup_waits_for_the_requesters_press_and_runs_once(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        prompt = await command(tg, "/topup acct BTC 100", chat=GROUP)
        assert "Confirm PAPER action: top-up 100.00 USDT from futures: acct BTC/USDT:USDT long" in (
            prompt.plain_text or ""
        )
        yes, no = prompt.callback_data
        await tg.wait_for(lambda: confirmations(app)[0].message_id is not None, timeout=3)
        [row] = confirmations(app)
        assert row.state == "pending" and row.user_id == USER and row.kind == "action"
        assert row.message_id == prompt.message_id and row.chat_id == GROUP
        assert row.expires_at == pytest.approx(row.created_at + 30)
        payload = json.loads(row.payload)
        assert (payload["kind"], payload["amount"], payload["symbol"]) == ("top_up", 100.0, SYMBOL)
        assert yes == f"mg:{row.token}:y" and no == f"mg:{row.token}:n"
        assert app.store.actions() == []

        # A stranger presses the real button: nothing happens, not even an answer.
        tg.press_button(STRANGER, GROUP, prompt.message_id, yes)
        await settle(tg)
        assert tg.answered_callbacks == [] and app.store.actions() == []
        # Another allowed user may not answer someone else's request.
        assert await press(tg, USER2, prompt, yes) == "not yours"
        assert confirmations(app)[0].state == "pending" and app.store.actions() == []

        assert await press(tg, USER, prompt, yes) == "Confirmed: working on it"
        await tg.wait_for(lambda: "reply_markup" not in current(tg, prompt), timeout=5)
        text = str(current(tg, prompt)["text"])
        assert text.startswith(f"✅ Confirmed by @u{USER} ({USER})") and "top-up 100.00 USDT" in text and "done" in text
        [action] = app.store.actions()
        assert (action.kind, action.amount, action.status, action.origin) == ("top_up", 100.0, "done", "command")
        assert action.requested_by == USER and action.mode == "paper"

        # Replays of either button do nothing.
        assert await press(tg, USER, prompt, yes, check=False) == "already handled"
        assert await press(tg, USER, prompt, no, check=False) == "already handled"
        assert len(app.store.actions()) == 1
    [row] = confirmations(app)
    assert row.state == "confirmed" and row.decided_by == USER
    presses = [c for c in app.store.commands() if c.text.startswith("[button]")]
    assert [c.accepted for c in presses].count(True) == 1


async def test_confirmation_expires(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg, telegram={"confirm_ttl_s": 1})) as app:
        await at_price(app, tg, 60000)
        prompt = await command(tg, "/reduce acct BTC 0.1")
        assert "reduce 0.1 contracts" in (prompt.plain_text or "")
        yes = prompt.callback_data[0]
        await tg.wait_for(lambda: "reply_markup" not in current(tg, prompt), timeout=5)
        assert str(current(tg, prompt)["text"]).startswith("⌛ Expired: nothing was done.")
        assert await press(tg, USER, prompt, yes, check=False) == "expired"
        assert app.store.actions() == []
    assert [c.state for c in confirmations(app)] == ["expired"]


async def test_cancel_does_nothing(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        prompt = await command(tg, "/hedge acct BTC/USDT:USDT 0.2")
        assert await press(tg, USER, prompt, prompt.callback_data[1]) == "Cancelled"
        await tg.wait_for(lambda: "reply_markup" not in current(tg, prompt), timeout=5)
        assert str(current(tg, prompt)["text"]).startswith(f"✖ Cancelled by @u{USER}")
        assert await press(tg, USER, prompt, prompt.callback_data[0], check=False) == "already handled"
        assert app.store.actions() == []
    assert [c.state for c in confirmations(app)] == ["cancelled"]


async def test_preauthorised_command_acts_at_once(tmp_path: Path, tg: FakeTelegramServer) -> None:
    settings = telegram_settings(
        tmp_path,
        tg,
        telegram={"preauthorized": ["reduce"]},
        guard={"kill_switch_file": str(tmp_path / "pause"), "cooldown_s": 0},
    )
    async with running_console(settings) as app:
        await at_price(app, tg, 60000)
        reply = await command(tg, "/reduce acct BTC 20%")
        assert reply.callback_data == []
        assert "pre-authorised" in (reply.plain_text or "") and "reduce 0.1 contracts" in (reply.plain_text or "")
        [action] = app.store.actions()
        assert (action.kind, action.amount, action.status) == ("reduce", pytest.approx(0.1), "done")
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)  # the action report
        # Not listed: still asks.
        assert (await command(tg, "/topup acct BTC 50")).callback_data
        assert len(app.store.actions()) == 1
    assert confirmations(app)[0].kind == "action"


async def test_mode_live_needs_the_switch_and_a_confirmation(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg, telegram={"allow_live_switch": True})) as app:
        prompt = await command(tg, "/mode live")
        assert "Switch to LIVE mode?" in (prompt.plain_text or "") and app.engine.mode == "paper"
        assert await press(tg, USER2, prompt, prompt.callback_data[0]) == "not yours"
        assert app.engine.mode == "paper"
        assert await press(tg, USER, prompt, prompt.callback_data[0]) == "Confirmed: working on it"
        await tg.wait_for(lambda: app.engine.mode == "live", timeout=5)
        await tg.wait_for(lambda: "mode is now LIVE" in str(current(tg, prompt)["text"]), timeout=5)
        assert "already in LIVE" in ((await command(tg, "/mode live")).plain_text or "")
        assert "PAPER" in ((await command(tg, "/mode paper")).plain_text or "")
        assert app.engine.mode == "paper"


async def test_rule_driven_confirmation_goes_to_every_chat(tmp_path: Path, tg: FakeTelegramServer) -> None:
    rules = [
        {"strategy": "alert", "at": "watch"},
        {"name": "top-up", "strategy": "top_up", "at": "danger", "target_distance_pct": 12, "confirm": True},
    ]
    async with running_console(telegram_settings(tmp_path, tg, mode="live", rules=rules)) as app:
        await at_price(app, tg, 60000)
        await at_price(app, tg, 51000)  # danger: the rule wants a confirmation, live mode
        await tg.wait_for(lambda: all(any(m.callback_data for m in tg.messages_to(c)) for c in (USER, GROUP)), 5)
        await at_price(app, tg, 50900)  # asked again by the engine: no second prompt while one waits
        await settle(tg)
        prompts = {c: [m for m in tg.messages_to(c) if m.callback_data] for c in (USER, GROUP)}
        assert [len(p) for p in prompts.values()] == [1, 1]
        text = prompts[GROUP][0].plain_text or ""
        assert "Confirm LIVE action: top-up 1000.00 USDT from futures" in text and "rule top-up" in text
        assert not prompts[GROUP][0].disable_notification
        [row] = confirmations(app)
        assert row.user_id is None and app.store.actions() == []

        assert await press(tg, USER2, prompts[GROUP][0], prompts[GROUP][0].callback_data[0]) == (
            "Confirmed: working on it"
        )
        for msg in (prompts[USER][0], prompts[GROUP][0]):  # both copies lose their buttons
            await tg.wait_for(lambda m=msg: "reply_markup" not in current(tg, m), timeout=5)  # type: ignore[misc]
            assert str(current(tg, msg)["text"]).startswith(f"✅ Confirmed by @u{USER2}")
        [action] = app.store.actions()
        assert (action.kind, action.mode, action.origin, action.status) == ("top_up", "live", "rule", "done")
        assert action.requested_by == USER2
