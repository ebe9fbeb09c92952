"""``marginguard stress`` as registered on the main CLI (``app.add_typer(stress_app, name="stress")``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner, Result

from bot.stress.command import stress_app

app = typer.Typer()


@app.command()
def version() -> None:
    """(a sibling command, so that ``stress`` is a sub-command as on the real CLI)"""


app.add_typer(stress_app, name="stress")
SCENARIO = ["--side", "long", "-l", "10", "--notional", "10000", "--wallet", "10000", "--spot", "0"]


def stress(*args: str) -> Result:
    return CliRunner().invoke(app, ["stress", *args])


def test_list_episodes() -> None:
    out = stress("--list")
    assert out.exit_code == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == [f"E{i}" for i in range(1, 9)]


def test_json_is_identical_run_to_run_and_the_chart_is_a_png(tmp_path: Path) -> None:
    args = ["--episode", "tariff-2025", "--asset", "BTC", *SCENARIO, "--json", "--chart", str(tmp_path / "c.png")]
    first, second = stress(*args), stress(*args)
    assert first.exit_code == second.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    report = json.loads(first.stdout)
    [run] = report["runs"]
    assert run["episode"] == "tariff-2025" and run["episode_code"] == "E8" and run["asset"] == "BTC"
    assert run["series"]["kind"] == "mark" and run["series"]["bars"] == 144 and run["series"]["interval"] == "1h"
    assert list(run["policies"]) == ["none", "auto-add-margin", "buffer-stop", "marginguard"]
    none, mg = run["policies"]["none"], run["policies"]["marginguard"]
    assert not none["survived"] and none["liquidated_at"].startswith("2025-10-10")
    assert mg["survived"] and mg["equity_vs_hold"] == round(mg["equity_end"] - none["equity_end"], 4)
    assert mg["equity_vs_start"] == round(mg["equity_end"] - mg["equity_start"], 4)
    assert run["chart"] == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_output_and_default_chart_name_in_the_working_directory(tmp_path: Path) -> None:
    out = stress("--episode", "E6", "--asset", "ETH", *SCENARIO)
    assert out.exit_code == 0, out.stderr
    for word in ("none", "auto-add-margin", "buffer-stop", "marginguard", "survived", "vs hold"):
        assert word in out.stdout
    assert Path("stress-ftx-2022-ETH.png").exists()  # tests run in their own tmp directory


def test_all_episodes_summary_and_exit_1_when_the_rules_let_a_position_die() -> None:
    out = stress("--all-episodes", "--asset", "BTC", *SCENARIO, "--no-chart", "--policy", "none,marginguard")
    assert out.exit_code == 1  # Black Thursday's 23.6 % hour is more than any 10x buffer survives (see docs)
    assert "survival and collateral" in out.stdout
    for code in range(1, 9):
        assert f"E{code} " in out.stdout
    assert not list(Path().glob("*.png"))


def test_own_candles_from_a_file(tmp_path: Path) -> None:
    rows = ["open_time,open,high,low,close,volume"]
    price = 100.0
    for i in range(48):
        low = price * (0.90 if i == 30 else 0.995)
        rows.append(f"{1_700_000_000_000 + i * 300_000},{price},{price * 1.002},{low},{low * 1.001},1")
        price = low * 1.001
    path = tmp_path / "my-export.csv"
    path.write_text("\n".join(rows) + "\n")
    out = stress("--prices", str(path), "--series", "last", "--symbol", "ETH/USDT:USDT", *SCENARIO, "--json",
                 "--no-chart")
    assert out.exit_code in (0, 1), out.stderr
    [run] = json.loads(out.stdout)["runs"]
    assert run["episode"] is None and run["series"]["name"] == "my-export.csv"
    assert run["series"]["interval"] == "5m" and run["series"]["kind"] == "last"
    assert run["scenario"]["symbol"] == "ETH/USDT:USDT" and run["scenario"]["entry"] == 100.0


def test_rules_come_from_the_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "mg.yaml"
    cfg.write_text(
        "rules:\n  - {strategy: deleverage, at: warning, target_distance_pct: 15}\n"
        "accounts:\n  - {name: live1, exchange: paper, paper: {positions: "
        "[{symbol: BTC/USDT:USDT, side: long, contracts: 1, entry_price: 20000, leverage: 10}]}}\n"
    )
    out = stress("--config", str(cfg), "--episode", "ftx-2022", "--asset", "BTC", "--json", "--no-chart")
    assert out.exit_code == 0, out.stderr
    [run] = json.loads(out.stdout)["runs"]
    sc = run["scenario"]
    assert (sc["side"], sc["leverage"], sc["notional"]) == ("long", 10.0, 20_000.0)  # the configured position
    kinds = {e["kind"] for e in run["policies"]["marginguard"]["events"]}
    assert "reduce" in kinds and "top_up" not in kinds


def test_bad_input_exits_2_with_the_reason() -> None:
    for args, reason in (
        ([], "choose what to replay"),
        (["--episode", "covid"], "unknown episode"),
        (["--episode", "E1", "--size", "1", "--notional", "5"], "not both"),
        (["--prices", "nope.csv"], "no such file"),
        (["--episode", "E1", "--asset", "SOL"], "no bundled data for SOL"),
    ):
        out = stress(*args)
        assert out.exit_code == 2 and reason in out.stderr, (args, out.stderr)
