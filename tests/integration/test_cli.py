"""The command line as a trader runs it: real processes, real files, exit codes and output."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT

TIMEOUT = 120


def mg(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MARGINGUARD")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_demo_shows_escalation_and_protection_then_history_shows_its_journal(tmp_path: Path) -> None:
    out = mg("demo", "--fast", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for expected in (
        "escalated to watch",
        "escalated to warning",
        "escalated to danger",
        "top-up",
        "reduce",
        "SURVIVED",
        "Without marginguard: liquidated",
    ):
        assert expected in text, expected
    hist = mg("history", "--json", cwd=tmp_path)
    assert hist.returncode == 0, hist.stderr
    report = json.loads(hist.stdout)
    kinds = {a["kind"] for a in report["actions"]}
    assert {"top_up", "reduce"} <= kinds
    assert all(a["status"] == "done" and a["mode"] == "paper" for a in report["actions"])
    assert any(a["kind"] == "escalation" and a["tier"] == "danger" for a in report["alerts"])
    human = mg("history", cwd=tmp_path)
    assert human.returncode == 0 and "top_up" in human.stdout


def test_check_once_json_on_example_config(tmp_path: Path) -> None:
    out = mg("check", "--once", "--json", "--config", str(EXAMPLE_CONFIG), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["accounts"], report
    required = {
        "symbol",
        "side",
        "contracts",
        "entry_price",
        "mark_price",
        "liquidation_price",
        "liquidation_price_reported",
        "distance_pct",
        "tier",
    }
    n = 0
    for account in report["accounts"]:
        assert account["error"] is None
        for p in account["positions"]:
            assert required <= set(p)
            assert p["tier"] in {"ok", "watch", "warning", "danger", "critical"}
            # distance in percent of mark, e.g. 19.7 (not 0.197)
            expected = abs(p["mark_price"] - p["liquidation_price"]) / p["mark_price"] * 100
            assert p["distance_pct"] == pytest.approx(expected)
            n += 1
    assert n == 3
    assert not (tmp_path / "marginguard.db").exists()  # check is read-only


def test_check_table_and_embedded_default(tmp_path: Path) -> None:
    out = mg("check", "--once", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "BTC/USDT:USDT" in out.stdout


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("mode: livee\naccounts: []\n", ["mode:", "paper", "live"]),
        ("accounts:\n  - name: a\n    exchange: paper\n    papr: {}\n", ["accounts.0.papr", "did you mean 'paper'"]),
        ("poll:\n  interval_s: zero\naccounts: []\n", ["poll.interval_s", "Fix:"]),
        ("poll: {interval_s: 0.1}\n", ["poll.interval_s", "greater than or equal to 1"]),
        ("mode: paper\n", ["accounts", "Fix:"]),
        ("accounts: [\n", ["line", "Fix: correct the YAML syntax"]),
        (
            "accounts:\n  - name: a\n    exchange: binanse\n    credentials: {api_key: k, secret: s}\n",
            ["accounts.0.exchange", "binance"],
        ),
        ("mode: live\naccounts:\n  - name: a\n    exchange: bybit\n", ["accounts.0.credentials", "api_key and secret"]),
        (
            "accounts:\n  - name: a\n    exchange: okx\n    credentials: {api_key: ${NOPE_KEY}, secret: s}\n",
            ["accounts.0.credentials.api_key", "NOPE_KEY is not set"],
        ),
        ("rules:\n  - {strategy: top_up, at: danger}\naccounts: []\n", ["rules.0", "target_distance_pct"]),
        ("escalation:\n  distance_pct: {watch: 3, critical: 10}\naccounts: []\n", ["escalation", "decrease"]),
        ("telegram: {token: '123:abc'}\naccounts: []\n", ["telegram", "chat_ids"]),
    ],
)
def test_bad_config_names_the_key_and_the_fix_and_exits_2(tmp_path: Path, yaml_text: str, expected: list[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    out = mg("config", "check", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    for fragment in expected:
        assert fragment in out.stderr, (fragment, out.stderr)
    # Nothing touched: no journal, and the same error from every command that loads config.
    assert not (tmp_path / "marginguard.db").exists()
    assert mg("check", "--once", "--config", str(cfg), cwd=tmp_path).returncode == 2


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    out = mg("run", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_secrets_never_printed_by_config_check(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "accounts:\n  - name: a\n    exchange: paper\n"
        "    credentials: {api_key: AKIASECRETKEYVALUE1, secret: ${MY_SECRET}}\n"
        "    paper: {positions: [{symbol: BTC/USDT:USDT, side: long, contracts: 1, entry_price: 100, leverage: 2}]}\n"
    )
    cfg.chmod(0o644)
    out = mg("config", "check", "--show", "--config", str(cfg), cwd=tmp_path, env={"MY_SECRET": "s3cr3t-value-xyz"})
    assert out.returncode == 0, out.stderr
    assert "AKIASECRETKEYVALUE1" not in out.stdout + out.stderr
    assert "s3cr3t-value-xyz" not in out.stdout + out.stderr
    assert "readable by other users" in out.stderr


def test_env_overrides_config(tmp_path: Path) -> None:
    out = mg(
        "config",
        "check",
        "--show",
        "--config",
        str(EXAMPLE_CONFIG),
        cwd=tmp_path,
        env={"MARGINGUARD__POLL__INTERVAL_S": "42", "MARGINGUARD__MODE": "live"},
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout[out.stdout.index("{") :])
    assert shown["poll"]["interval_s"] == 42 and shown["mode"] == "live"


def test_daemon_runs_heartbeats_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARGINGUARD")}
    env.update(PYTHONPATH=str(ROOT), MARGINGUARD__POLL__INTERVAL_S="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        heartbeat = tmp_path / "marginguard.heartbeat"
        while not heartbeat.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert heartbeat.exists()
        assert mg("health", cwd=tmp_path).returncode == 0
        # Kill switch by signal: SIGUSR1 pauses actions (journalled), SIGUSR2 resumes.
        proc.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: kv(tmp_path / "marginguard.db", "paused") is not None)
        proc.send_signal(signal.SIGUSR2)
        assert wait_for(lambda: kv(tmp_path / "marginguard.db", "paused") is None)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        assert proc.returncode == 0, proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert (tmp_path / "marginguard.db").exists()


def kv(db: Path, key: str) -> str | None:
    with sqlite3.connect(db, timeout=5) as conn:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_health_fails_without_heartbeat(tmp_path: Path) -> None:
    out = mg("health", cwd=tmp_path)
    assert out.returncode == 1 and "unhealthy" in out.stderr
