"""After a full live run (fake exchange + fake Bot API, DEBUG logging, faults that raise), no
secret appears anywhere: logs at any level, the journal file, CLI output, Telegram messages."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.fakes.exchange import FakeExchangeServer
from tests.fakes.telegram import FakeTelegramServer
from tests.integration.exchange_support import BTC, MARGIN, ONE_BTC, POSITIONS, TOP_UP, account_config, market_for

pytestmark = pytest.mark.timeout(120)
USER = 4242
API_KEY = "mgTestKeyAAAAbbbbCCCCddddEEEE1234"
API_SECRET = "mgTestSecretZZZZyyyyXXXXwwww98765"
TOKEN = "987654321:AAmgTestTokenQQQQrrrrSSSStttt00"


def journal_has(tmp_path: Path, fragment: str) -> bool:
    db = tmp_path / "journal.db"
    if not db.exists():
        return False
    with sqlite3.connect(db, timeout=5) as conn:
        return bool(conn.execute("SELECT 1 FROM alert WHERE text LIKE ?", (f"%{fragment}%",)).fetchone())


async def test_no_secret_anywhere_after_a_full_run(tmp_path: Path) -> None:
    market = market_for("binance")
    market.open_position(BTC, "long", ONE_BTC["binance"], 60_000.0, leverage=10, margin_mode="isolated")
    market.set_mark(BTC, 55_500.0)
    exchange = FakeExchangeServer("binance", market, api_key=API_KEY, secret=API_SECRET)  # type: ignore[arg-type]
    telegram = FakeTelegramServer(token=TOKEN)
    await exchange.start()
    await telegram.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARGINGUARD")}
    env.update(PYTHONPATH=str(ROOT), BINANCE_KEY=API_KEY, BINANCE_SECRET=API_SECRET, TG_TOKEN=TOKEN)
    account: dict[str, Any] = account_config(exchange)
    account["credentials"] = {"api_key": "${BINANCE_KEY}", "secret": "${BINANCE_SECRET}"}
    config = {
        "mode": "live",
        "log_level": "DEBUG",
        "database": {"path": str(tmp_path / "journal.db")},
        "health": {"heartbeat_file": str(tmp_path / "hb")},
        "poll": {"interval_s": 1, "request_timeout_s": 2},
        "guard": {"kill_switch_file": None, "cooldown_s": 0},
        "rules": TOP_UP,
        "telegram": {"token": "${TG_TOKEN}", "base_url": f"{telegram.url}/bot", "chat_ids": [USER],
                     "user_ids": [USER], "poll_timeout_s": 1},
        "accounts": [account],
    }
    cfg = tmp_path / "live.yaml"
    cfg.write_text(yaml.safe_dump(config))
    outputs: list[str] = []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(cfg), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not exchange.requests.count(MARGIN["binance"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        # Provoke the error paths: auth failure, 5xx HTML, a nonce error; and a command.
        exchange.faults.arm(POSITIONS["binance"], "http_5xx", times=2)
        exchange.faults.arm(POSITIONS["binance"], "nonce_error", times=1)
        telegram.push_message(USER, USER, "/status")
        telegram.push_message(666, 666, "/pause")  # a stranger
        await asyncio.sleep(4)
        exchange.faults.arm(POSITIONS["binance"], "auth_error", times=-1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not journal_has(tmp_path, "authentication failed"):
            await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=40)
        outputs.append(out.decode(errors="replace"))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await telegram.stop()
        await exchange.stop()

    assert exchange.requests.count(MARGIN["binance"]) >= 1  # it did act
    assert telegram.messages_to(USER)  # and it did talk
    log = outputs[0]
    assert "DEBUG" in log and "authentication failed" in log.lower()
    ours = [line for line in log.splitlines() if " bot." in line]
    assert ours and not any("<html>" in line.lower() for line in ours)  # venue error pages become one line
    assert "X-MBX-APIKEY': '***'" in log  # ccxt's DEBUG request log, with the key masked by our filter
    for args in (["history", "--json"], ["config", "check", "--show"]):
        cli = subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(cfg)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        outputs.append(cli.stdout + cli.stderr)
    for name in os.listdir(tmp_path):
        if name.startswith("journal.db"):
            outputs.append((tmp_path / name).read_bytes().decode("latin-1"))
    outputs.extend(m.text or "" for m in telegram.messages_to(USER, include_edits=True))
    outputs.extend(str(r.params) for r in telegram.calls("sendMessage"))
    secrets = [API_KEY, API_SECRET, TOKEN, TOKEN.split(":", 1)[1]]
    for text in outputs:
        for secret in secrets:
            assert secret not in text, f"secret leaked: ...{text[max(0, text.find(secret) - 200):text.find(secret)]}"
