"""Commands through the fake Bot API: they work for allow-listed users in allow-listed chats,
do nothing at all for anyone else, ignore stale messages and answer bad arguments with usage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import __version__
from bot.app import App
from bot.notify.commands import REGISTRY
from tests.fakes.telegram import FakeTelegramServer, probe_image
from tests.integration.telegram_support import (
    GROUP,
    STRANGER,
    STRANGER_CHAT,
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
    """One guard cycle at ``price``, then wait until its alerts are out (so replies are not mixed up)."""
    paper_of(app).set_mark(SYMBOL, price)
    result = await app.engine.run_cycle("acct")
    assert result.error is None
    await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=5)


async def test_read_only_commands(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        await at_price(app, tg, 53000)  # warning
        await tg.wait_for(lambda: bool(tg.commands()), timeout=3)
        assert [c["command"] for c in tg.commands()] == [c.name for c in REGISTRY]

        status = await command(tg, "/status")
        assert "<pre>" in (status.text or "")
        plain = status.plain_text or ""
        assert "mode PAPER; actions enabled" in plain and "acct (paper): WARNING" in plain
        assert SYMBOL in plain and "warning" in plain and "9.07%" in plain

        positions = await command(tg, "/positions acct")
        assert "margin ratio" in (positions.plain_text or "") and "liq 48,192.77" in (positions.plain_text or "")
        tiers = (await command(tg, "/tiers")).plain_text or ""
        assert "dist<=" in tiers and "15%" in tiers and "loud from danger" in tiers
        assert __version__ in ((await command(tg, "/version")).plain_text or "")
        helptext = (await command(tg, "/help")).plain_text or ""
        assert all(f"/{c.name}" in helptext for c in REGISTRY)
        assert "no actions" in ((await command(tg, "/history")).plain_text or "")
        assert "unknown command" in ((await command(tg, "/frobnicate")).plain_text or "")
        # Commands work in the allowed group chat as well.
        assert "acct (paper)" in ((await command(tg, "/status", chat=GROUP)).plain_text or "")
    journal = app.store.commands()
    assert journal and all(c.accepted for c in journal)
    assert {c.outcome for c in journal} <= {"ok", "unknown command"}


async def test_control_commands(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        await at_price(app, tg, 51000)  # danger: the top-up rule acts (paper)
        assert "Paused" in ((await command(tg, "/pause going to sleep")).plain_text or "")
        reason = app.engine.pause_reason() or ""
        assert "going to sleep" in reason and str(USER) in reason
        assert "Resumed" in ((await command(tg, "/resume")).plain_text or "")
        assert app.engine.pause_reason() is None

        assert "Acknowledged 1 position" in ((await command(tg, "/ack acct", user=USER2, chat=GROUP)).plain_text or "")
        assert all(m.acked_tier == m.tier for m in app.engine.memos["acct"].values())

        assert "mode: PAPER" in ((await command(tg, "/mode")).plain_text or "")
        assert "disabled" in ((await command(tg, "/mode live")).plain_text or "")
        assert app.engine.mode == "paper"
        assert "PAPER" in ((await command(tg, "/mode paper")).plain_text or "")

        history = (await command(tg, "/history 5")).plain_text or ""
        assert "top_up 1000.00 USDT acct BTC/USDT:USDT long: done" in history
    outcomes = [c.outcome for c in app.store.commands()]
    assert "refused: live switch disabled" in outcomes


async def test_bad_arguments_get_a_usage_message(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        cases = {
            "/topup acct": "usage: /topup <account> <symbol> <amount> [futures|spot|funding]",
            "/topup nope BTC 10": "unknown account 'nope'",
            "/topup acct BTC lots": "amount must be a number",
            "/topup acct BTC -5": "must be a positive number",
            "/topup acct BTC 10 sideways": "unexpected argument",
            "/reduce acct BTC 150%": "at most 100%",
            "/hedge acct ETH 1": "no open position in ETH on acct",
            "/history 0": "usage: /history [n]",
            "/chart": "usage: /chart <symbol> [account]",
            "/mode fast": "usage: /mode [paper|live]",
            "/positions nope": "unknown account",
        }
        for text, expected in cases.items():
            reply = await command(tg, text)
            assert expected in (reply.plain_text or ""), (text, reply.plain_text)
        assert app.store.actions() == []
    assert sum(c.outcome.startswith("usage") for c in app.store.commands()) == len(cases)


async def test_strangers_get_nothing_and_are_journalled(tmp_path: Path, tg: FakeTelegramServer) -> None:
    async with running_console(telegram_settings(tmp_path, tg)) as app:
        await at_price(app, tg, 60000)
        await tg.wait_for(lambda: bool(tg.commands()), timeout=3)
        sent_before = len(tg.sent)
        tg.push_message(STRANGER, STRANGER, "/status", username="mallory")  # stranger, own chat
        tg.push_message(STRANGER, GROUP, "/pause", username="mallory")  # stranger in an allowed chat
        tg.push_message(USER, STRANGER_CHAT, "/pause")  # allowed user in a chat that is not allowed
        tg.push_message(STRANGER, STRANGER, "/topup acct BTC 100")
        await settle(tg)
        assert len(tg.sent) == sent_before  # not a single reply, to anyone
        assert tg.answered_callbacks == []
        assert app.engine.pause_reason() is None and app.store.actions() == []
    rejected = [c for c in app.store.commands() if not c.accepted]
    assert len(rejected) == 4
    assert {(c.user_id, c.chat_id) for c in rejected} == {
        (STRANGER, STRANGER),
        (STRANGER, GROUP),
        (USER, STRANGER_CHAT),
    }
    assert all(c.outcome.startswith("rejected") for c in rejected)


async def test_stale_commands_are_ignored(tmp_path: Path, tg: FakeTelegramServer) -> None:
    settings = telegram_settings(tmp_path, tg, telegram={"command_max_age_s": 60})
    async with running_console(settings) as app:
        sent_before = len(tg.sent)
        tg.push_message(USER, USER, "/pause queued an hour ago", date=time.time() - 3600)
        await settle(tg)
        assert app.engine.pause_reason() is None
        assert len(tg.sent) == sent_before
        assert "Paused" in ((await command(tg, "/pause now")).plain_text or "")  # a fresh one works
    stale = [c for c in app.store.commands() if c.text.startswith("/pause queued")]
    assert len(stale) == 1 and not stale[0].accepted and stale[0].outcome.startswith("ignored: sent 36")


async def test_chart_sends_a_png(tmp_path: Path, tg: FakeTelegramServer) -> None:
    settings = telegram_settings(tmp_path, tg, database={"path": str(tmp_path / "journal.db"), "sample_every_s": 0})
    async with running_console(settings) as app:
        for price in (60000, 58000, 56000, 55000):
            await at_price(app, tg, price)
        photo = await command(tg, "/chart BTC", timeout=10)
        assert photo.kind == "photo" and photo.photo is not None
        info = probe_image(photo.photo)
        assert info is not None and info.format == "png" and info.width >= 600
        assert f"{SYMBOL}: 4 samples" in (photo.plain_text or "")
        assert "no risk samples" in ((await command(tg, "/chart DOGE")).plain_text or "")
