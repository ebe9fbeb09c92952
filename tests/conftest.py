"""Shared fixtures. Tests never touch ../shared, the network (other than 127.0.0.1) or the
developer's cwd: every journal is a real SQLite file under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"


class SimClock:
    """A clock tests advance by hand, shared by the engine, the store and the paper exchange."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own directory with no MARGINGUARD* environment leaking in."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("MARGINGUARD"):
            monkeypatch.delenv(key, raising=False)


def paper_settings(tmp_path: Path, **overrides: object) -> Settings:
    """A one-account paper configuration: BTC long 0.5 @ 60k isolated 5x, scripted path."""
    data: dict[str, object] = {
        "database": {"path": str(tmp_path / "journal.db")},
        "health": {"heartbeat_file": str(tmp_path / "hb")},
        "guard": {"kill_switch_file": str(tmp_path / "pause")},
        "rules": [
            {"strategy": "alert", "at": "watch"},
            {
                "name": "top-up",
                "strategy": "top_up",
                "at": "danger",
                "target_distance_pct": 12,
                "source": ["futures", "spot"],
            },
            {"name": "deleverage", "strategy": "deleverage", "at": "critical", "target_distance_pct": 8},
        ],
        "accounts": [
            {
                "name": "acct",
                "exchange": "paper",
                "paper": {
                    "wallet": {"futures": {"USDT": 1500.0}, "spot": {"USDT": 3000.0}},
                    "positions": [
                        {
                            "symbol": "BTC/USDT:USDT",
                            "side": "long",
                            "contracts": 0.5,
                            "entry_price": 60000.0,
                            "margin_mode": "isolated",
                            "leverage": 5,
                        }
                    ],
                    "price_path": {"kind": "flat", "step_s": 10},
                    "taker_fee": 0.0004,
                },
            }
        ],
    }
    data.update(overrides)  # type: ignore[arg-type]
    return Settings(**data)  # type: ignore[arg-type]
