"""The bundled crash episodes: Binance USD-M mark price, 1h, BTC and ETH, 8 episodes.

``data/manifest.json`` lists the episodes and, per file, its source repository and commit,
row count, headline statistics and SHA-256; ``data/README.md`` tells where the data comes
from and what was done to it (nothing but trimming and re-formatting times).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bot.stress.prices import PriceFileError, Series, parse_text

ASSETS = ("BTC", "ETH")


@dataclass(frozen=True)
class Episode:
    id: str  # black-thursday-2020
    code: str  # E1
    title: str
    crash: str  # one line: when and what
    window_start: str
    window_end: str

    @property
    def label(self) -> str:
        return f"{self.code} {self.id}"


@cache
def manifest() -> dict[str, Any]:
    text = resources.files("bot.stress").joinpath("data/manifest.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def episodes() -> tuple[Episode, ...]:
    return tuple(Episode(**e) for e in manifest()["episodes"])


def resolve(name: str) -> Episode:
    """An episode by id (``ftx-2022``) or code (``E6``), case-insensitive."""
    key = name.strip().lower()
    for e in episodes():
        if key in (e.id, e.code.lower()):
            return e
    known = ", ".join(f"{e.id} ({e.code})" for e in episodes())
    raise KeyError(f"unknown episode {name!r}; known: {known}")


def symbol_for(asset: str) -> str:
    """The unified symbol the replay trades for a bundled asset."""
    return f"{asset.upper()}/USDT:USDT"


def file_entry(episode: Episode, asset: str) -> dict[str, Any]:
    asset = asset.upper()
    for f in manifest()["files"]:
        if f["episode"] == episode.id and f["asset"] == asset:
            entry: dict[str, Any] = f
            return entry
    raise KeyError(f"no bundled {asset} file for {episode.id}; assets: {', '.join(ASSETS)}")


@cache
def load(episode_id: str, asset: str) -> Series:
    """The bundled mark series of one episode and asset."""
    episode = resolve(episode_id)
    entry = file_entry(episode, asset)
    text = resources.files("bot.stress").joinpath(f"data/{entry['file']}").read_text(encoding="utf-8")
    series = parse_text(text, name=entry["file"], kind=entry["series"])
    if len(series) != entry["rows"]:
        raise PriceFileError(f"bundled {entry['file']}: {len(series)} bars, manifest says {entry['rows']}")
    return series
