"""The whole daemon (scheduler, engine, paper exchange, journal, Telegram console) against the
fake Bot API: a scripted crash produces the escalation sequence in Telegram, and a Telegram
outage in the middle of it loses no alert while the guard loop keeps running."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app, run_daemon
from bot.journal import Alert
from tests.fakes.telegram import FakeTelegramServer
from tests.integration.telegram_support import (
    GROUP,
    SYMBOL,
    USER,
    command,
    console_of,
    fast,
    paper_of,
    telegram_settings,
)

pytestmark = pytest.mark.timeout(20)

# Multipliers of the 60k entry, one per guard cycle: ok -> watch -> warning -> danger (top-up) -> ...
CRASH = [1.0, 1.0, 0.93, 0.883, 0.85]


def crash_settings(tmp_path: Path, tg: FakeTelegramServer) -> Any:
    account = {
        "name": "acct",
        "exchange": "paper",
        "paper": {
            "wallet": {"futures": {"USDT": 1500.0}, "spot": {"USDT": 3000.0}},
            "positions": [
                {
                    "symbol": SYMBOL,
                    "side": "long",
                    "contracts": 0.5,
                    "entry_price": 60000.0,
                    "margin_mode": "isolated",
                    "leverage": 5,
                }
            ],
            "price_path": {"kind": "scripted", "steps": {"*": CRASH}, "step_s": 1},
        },
    }
    return telegram_settings(tmp_path, tg, poll={"interval_s": 1, "misfire_grace_s": 5}, accounts=[account])


@asynccontextmanager
async def daemon(tmp_path: Path, tg: FakeTelegramServer) -> AsyncIterator[App]:
    app = build_app(crash_settings(tmp_path, tg))
    fast(console_of(app))
    paper_of(app).follow_clock = False  # the crash moves one step per completed cycle, see drive_crash
    stop = asyncio.Event()
    task = asyncio.create_task(run_daemon(app, stop=stop))
    driver = asyncio.create_task(drive_crash(app))
    try:
        await asyncio.wait_for(console_of(app).ready.wait(), timeout=5)
        yield app
    finally:
        driver.cancel()
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def drive_crash(app: App) -> None:
    """Step the crash once after each successful guard cycle. A path that follows the wall clock
    lets a poll that slips by a second on a loaded machine skip a step, and with it a tier."""
    paper = paper_of(app)
    for _ in CRASH:
        seen = app.engine.last_success.get("acct")
        while app.engine.last_success.get("acct") == seen:
            await asyncio.sleep(0.02)
        paper.step()


def texts(tg: FakeTelegramServer, chat: int) -> list[str]:
    return [m.plain_text or "" for m in tg.messages_to(chat)]


def first_line(alert: Alert) -> str:
    return alert.text.split("\n", 1)[0]


def assert_token_nowhere(tg: FakeTelegramServer, tmp_path: Path, log_text: str) -> None:
    secret = tg.token.partition(":")[2]
    assert tg.token not in log_text and secret not in log_text
    for db in tmp_path.glob("journal.db*"):
        assert secret.encode() not in db.read_bytes(), db


async def test_daemon_sends_the_escalation_sequence(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegramServer() as tg, daemon(tmp_path, tg) as app:
        await tg.wait_for(lambda: any("top-up" in t for t in texts(tg, USER)), timeout=10)
        status = await command(tg, "/status")
        assert "acct" in (status.plain_text or "") and SYMBOL in (status.plain_text or "")
    sent = texts(tg, USER)
    heads = [t.split("\n", 1)[0] for t in sent]
    escalations = [h for h in heads if "escalated to" in h]
    assert [re.search(r"escalated to (\w+)", h).group(1) for h in escalations] == ["watch", "warning", "danger"]  # type: ignore[union-attr]
    assert sum("top-up" in h and "done" in h for h in heads) == 1  # the action report
    # Danger and worse are loud, watch and warning are silent; the group got the same alerts.
    loud = {h.split(":")[0]: not m.disable_notification for h, m in zip(heads, tg.messages_to(USER), strict=True)}
    assert loud["🔵 WATCH"] is False and loud["🟠 DANGER"] is True
    assert [h for h in (t.split("\n", 1)[0] for t in texts(tg, GROUP)) if "escalated" in h] == escalations
    assert all(m.parse_mode == "HTML" for m in tg.messages_to(USER))
    assert app.store.undelivered_alerts() == []
    assert all(a.attempts >= 1 and a.delivered_at is not None for a in app.store.alerts())
    assert_token_nowhere(tg, tmp_path, caplog.text)


@pytest.mark.parametrize("outage", ["refuse", "502"])
async def test_outage_loses_no_alert(tmp_path: Path, caplog: pytest.LogCaptureFixture, outage: str) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegramServer() as tg, daemon(tmp_path, tg) as app:
        await tg.go_down(outage)  # type: ignore[arg-type]
        cycles_before = app.engine.last_success.get("acct", 0.0)
        # The guard loop does not care: it escalates and acts while Telegram is gone.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not app.store.actions() and loop.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.2)  # one more cycle: the de-escalation after the top-up
        assert app.store.actions() and app.store.actions()[0].status == "done"
        assert app.engine.last_success["acct"] > cycles_before
        waiting = app.store.undelivered_alerts()
        kinds = [a.kind for a in waiting]
        assert kinds.count("escalation") == 3 and "action" in kinds, kinds
        assert tg.messages_to(USER) == []
        assert any(a.attempts >= 1 for a in waiting)  # tried, failed, kept

        await tg.come_up()
        await tg.wait_for(lambda: app.store.undelivered_alerts() == [], timeout=8)
        await asyncio.sleep(0.2)
    sent = "\n".join(texts(tg, USER))
    for alert in waiting:  # every alert made it, in full or in the digest of a newer one
        assert first_line(alert) in sent, first_line(alert)
    coalesced = [t for t in texts(tg, USER) if "(earlier" in t]
    assert coalesced, texts(tg, USER)
    newest_first = [a for a in waiting if a.position_key][::-1]
    assert coalesced[0].startswith(first_line(newest_first[0]))
    assert texts(tg, GROUP) == texts(tg, USER)
    assert all(a.delivered_at is not None for a in app.store.alerts())
    assert_token_nowhere(tg, tmp_path, caplog.text)
