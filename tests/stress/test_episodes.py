"""The bundled crash data: complete, intact (SHA-256), and as the manifest describes it."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from bot.stress import episodes

IDS = ["black-thursday-2020", "china-ban-2021", "dec-2021", "luna-2022", "3ac-2022", "ftx-2022", "yen-carry-2024",
       "tariff-2025"]


def test_eight_episodes_with_ids_and_codes() -> None:
    assert [e.id for e in episodes.episodes()] == IDS
    assert [e.code for e in episodes.episodes()] == [f"E{i}" for i in range(1, 9)]
    assert episodes.resolve("E6").id == "ftx-2022" == episodes.resolve(" FTX-2022 ").id == episodes.resolve("e6").id
    with pytest.raises(KeyError, match="known: black-thursday-2020"):
        episodes.resolve("covid")


@pytest.mark.parametrize("episode_id", IDS)
@pytest.mark.parametrize("asset", episodes.ASSETS)
def test_every_file_is_the_one_the_manifest_describes(episode_id: str, asset: str) -> None:
    entry = episodes.file_entry(episodes.resolve(episode_id), asset)
    raw = resources.files("bot.stress").joinpath(f"data/{entry['file']}").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
    s = episodes.load(episode_id, asset)
    assert s.kind == "mark" and s.interval_s == 3600 and len(s) == entry["rows"] and not s.notes
    assert s.open[0] == entry["start_open"] and s.close[-1] == entry["end_close"]
    assert min(s.low) == entry["min_low"] and max(s.high) == entry["max_high"]
    assert entry["source"]["commit"] == "5377c81111cd0da9ca89ee22214d79e8777fe896"
    assert episodes.symbol_for(asset) == f"{asset}/USDT:USDT"


def test_provenance_readme_is_bundled() -> None:
    text = resources.files("bot.stress").joinpath("data/README.md").read_text(encoding="utf-8")
    assert "Roshan7869/algotrading" in text and "mark price" in text
