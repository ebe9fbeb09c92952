"""Kill -9 the daemon in the middle of a live money-moving call against the fake exchange,
restart it, and count: every action the exchange applied is in the journal exactly once, no
action was repeated, no unknown outcome is left unreported, no secret was printed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.fakes.exchange import FakeExchangeServer
from tests.integration.exchange_support import (
    BTC,
    MARGIN,
    ONE_BTC,
    POSITIONS,
    TOP_UP,
    account_config,
    market_for,
)

pytestmark = pytest.mark.timeout(150)


def write_config(tmp_path: Path, server: FakeExchangeServer) -> Path:
    cfg: dict[str, Any] = {
        "mode": "live",
        "database": {"path": str(tmp_path / "journal.db")},
        "health": {"heartbeat_file": str(tmp_path / "hb")},
        "poll": {"interval_s": 1, "request_timeout_s": 2},
        "guard": {"kill_switch_file": None, "cooldown_s": 0, "max_action_quote": 100000,
                  "max_daily_quote_per_account": 1e6, "max_daily_quote_global": 1e6},
        "rules": TOP_UP,
        "accounts": [account_config(server)],
    }
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return path


async def start_daemon(config: Path, tmp_path: Path, tag: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARGINGUARD")}
    env["PYTHONPATH"] = str(ROOT)
    out = (tmp_path / f"{tag}.out").open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), cwd=tmp_path, env=env, stdout=out,
        stderr=asyncio.subprocess.STDOUT,
    )


async def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return False


def journal(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "journal.db", timeout=5) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
@pytest.mark.parametrize("kill_point", ["after_apply", "before_apply", "random"])
async def test_killed_mid_action_then_restarted_never_duplicates(tmp_path: Path, venue: str, kill_point: str) -> None:
    market = market_for(venue)
    market.open_position(BTC, "long", ONE_BTC[venue], 60_000.0, leverage=10, margin_mode="isolated")
    market.set_mark(BTC, 55_500.0)  # ~4% from liquidation: danger, the top-up rule acts at once
    server = FakeExchangeServer(venue, market)  # type: ignore[arg-type]
    await server.start()
    daemon: asyncio.subprocess.Process | None = None
    try:
        config = write_config(tmp_path, server)
        if kill_point == "after_apply":  # the venue applies, then never answers
            server.faults.arm(MARGIN[venue], "apply_then_timeout", seconds=20)
        elif kill_point == "before_apply":  # in flight; the venue applies it after the client is gone
            server.faults.arm(MARGIN[venue], "delay", seconds=2)
        else:  # anywhere from the first poll to just after the call (seeded offset; timing decides where)
            server.faults.arm(MARGIN[venue], "delay", seconds=0.5)
        daemon = await start_daemon(config, tmp_path, "first")
        if kill_point == "random":
            assert await wait_until(lambda: server.requests.count(POSITIONS[venue]) >= 1, 60)
            await asyncio.sleep(random.Random(f"{venue}-kill").uniform(0.0, 2.0))
        else:
            assert await wait_until(lambda: server.requests.count(MARGIN[venue]) >= 1, 60), "no top-up was sent"
        daemon.send_signal(signal.SIGKILL)
        await daemon.wait()
        if kill_point != "random":  # mid-call: intent journalled, outcome never recorded
            assert journal(tmp_path, "SELECT status FROM action") == [("intent",)]
            await wait_until(lambda: len(market.margin_changes) >= 1, 10)
        else:
            await asyncio.sleep(1.0)  # let a request in flight land (or not)
        server.faults.clear()

        polls_before_restart = server.requests.count(POSITIONS[venue])
        daemon = await start_daemon(config, tmp_path, "second")
        # Settled only once the second daemon has itself polled: the first may already have
        # journalled 'done', and the restarted one must be up (signal handlers in) and guarding.
        settled = await wait_until(
            lambda: server.requests.count(POSITIONS[venue]) > polls_before_restart
            and journal(tmp_path, "SELECT count(*) FROM action WHERE status IN ('intent', 'unknown')") == [(0,)]
            and journal(tmp_path, "SELECT count(*) FROM action WHERE status = 'done'") != [(0,)],
            40,
        )
        await asyncio.sleep(3)  # a few more cycles: nothing may be repeated
        daemon.send_signal(signal.SIGTERM)
        assert await daemon.wait() == 0
        daemon = None
        assert settled, (tmp_path / "second.out").read_text()[-3000:]
    finally:
        if daemon is not None and daemon.returncode is None:
            daemon.kill()
            await daemon.wait()
        await server.stop()

    rows = journal(tmp_path, "SELECT kind, status, amount, mode, error_kind FROM action ORDER BY id")
    applied = [c.amount for c in market.margin_changes if c.kind == "add"]
    assert len(applied) >= 1
    done = [r for r in rows if r[1] == "done"]
    # Every margin change the exchange applied is journalled as done, exactly once; the only
    # other rows allowed are intents found never sent (killed before the call left).
    assert all(r[1] == "done" or (r[1] == "failed" and r[4] == "not_sent") for r in rows), rows
    assert len(done) == len(applied), (rows, applied)
    if kill_point != "random":
        assert len(rows) == 1
        assert journal(tmp_path, "SELECT count(*) FROM alert WHERE text LIKE '%reconciled%'") != [(0,)]
    assert sum(r[2] for r in done) == pytest.approx(sum(applied), rel=1e-6)
    assert all(r[3] == "live" for r in rows)
    secrets = [v for k, v in account_config(server)["credentials"].items()]
    for out in ("first.out", "second.out"):
        text = (tmp_path / out).read_text(errors="replace")
        for secret in secrets:
            assert secret not in text
