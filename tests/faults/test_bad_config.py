"""Bad input gets a clear error and touches nothing: every key of the example configuration,
corrupted one at a time, fails validation with a message that names that key and a fix."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import ConfigError, load_settings
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
# Keys whose type accepts any garbage value as valid (free text, names, passthrough mappings).
FREE_FORM = {"name", "base_url", "ping_url", "symbol", "ccxt", "start", "steps", "tiers", "path", "heartbeat_file",
             "kill_switch_file", "token"}


def leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, str(k)))
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, str(i)))
    else:
        yield path, node


def garbage_for(value: Any) -> Any:
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, int | float):
        return "lots"
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, str):
        return {"not": "a string"}
    return ["?"]


CASES = [(".".join(p), v) for p, v in leaves(EXAMPLE) if p[-1] not in FREE_FORM and v is not None]


def set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[path[-1] if not isinstance(node, list) else int(path[-1])] = value


@pytest.mark.parametrize(("key", "value"), CASES, ids=[k for k, _ in CASES])
def test_every_corrupted_key_is_named_with_a_fix(tmp_path: Path, key: str, value: Any) -> None:
    data = copy.deepcopy(EXAMPLE)
    set_path(data, key.split("."), garbage_for(value))
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = "\n".join(err.value.problems)
    assert key in text, text
    assert "Fix:" in text or "Input should be" in text, text
    assert not (tmp_path / "marginguard.db").exists()


def test_there_are_many_cases() -> None:
    assert len(CASES) > 80


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        ({"mode": "yolo"}, "mode"),
        ({"accounts": []}, "accounts"),
        ({"accounts": [{"name": "x", "exchange": "notanexchange", "credentials": {"api_key": "k", "secret": "s"}}]},
         "unknown exchange"),
        ({"mode": "live", "accounts": [{"name": "x", "exchange": "binanceusdm"}]}, "api_key and secret"),
        ({"accounts": [{"name": "a b", "exchange": "paper"}]}, "accounts.0.name"),
        ({"guard": {"max_reduce_pct_per_action": 150}}, "guard.max_reduce_pct_per_action"),
        ({"rules": [{"strategy": "hedge", "at": "critical", "target_net_exposure_pct": 50, "unwind_at": "critical"}]},
         "unwind_at"),
        ({"telegram": {"token": "1:abc", "chat_ids": []}}, "chat_ids"),
    ],
)
def test_semantic_errors(tmp_path: Path, mutation: dict[str, Any], fragment: str) -> None:
    data = copy.deepcopy(EXAMPLE)
    data.update(mutation)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert fragment in "\n".join(err.value.problems)
