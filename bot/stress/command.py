"""``marginguard stress``: replay real crashes against a position, policy by policy.

Registered by ``bot.cli`` as ``app.add_typer(stress_app, name="stress")``; runs on its own as
``python -c "from bot.stress.command import stress_app; stress_app()" --episode ftx-2022``.
Exit status: 0, or 1 when marginguard's rules let a position be liquidated, 2 on bad input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.settings import AccountSettings, Settings
from bot.stress import episodes
from bot.stress.policies import MARGINGUARD, POLICIES, parse_policy
from bot.stress.prices import PriceFileError, Series, load_csv
from bot.stress.scenario import Scenario, config_position, source_account

stress_app = typer.Typer(add_completion=False, help="Replay real crashes against a position; compare protections.")

EXIT_INPUT = 2
DEFAULTS: dict[str, Any] = {"side": "long", "leverage": 10.0, "notional": 10_000.0, "margin_mode": "isolated",
                            "wallet": 5_000.0, "spot": 0.0, "funding": 0.0, "hedge_mode": False}


@dataclass(frozen=True)
class Job:
    series: Series
    scenario: Scenario
    episode: str | None
    asset: str | None


def _fail(message: str) -> typer.Exit:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print("[bold red]stress:[/bold red] ", end="")
    err.print(message, markup=False)
    return typer.Exit(EXIT_INPUT)


def _load_config(config: Path | None) -> Settings:
    from bot.cli import err_console, load_or_exit

    settings, _ = load_or_exit(config, err_console())
    return settings


def _template(source: AccountSettings | None, asset: str) -> dict[str, Any]:
    """Scenario defaults from the configured paper position in ``asset`` (see docs/stress.md)."""
    out: dict[str, Any] = dict(DEFAULTS)
    pos = config_position(source, asset)
    if source is None or source.paper is None or pos is None:
        return out
    notional = pos.contracts * pos.contract_size * pos.entry_price
    leverage = pos.leverage or (notional / pos.collateral if pos.collateral else DEFAULTS["leverage"])
    settle = pos.symbol.split(":")[-1] if ":" in pos.symbol else "USDT"
    wallet = source.paper.wallet
    out.update(side=pos.side, leverage=leverage, notional=notional, margin_mode=pos.margin_mode,
               wallet=wallet.get("futures", {}).get(settle, 0.0), spot=wallet.get("spot", {}).get(settle, 0.0),
               funding=wallet.get("funding", {}).get(settle, 0.0), taker_fee=source.paper.taker_fee,
               hedge_mode=source.hedge_mode)
    return out


def _series(episode: list[str] | None, all_episodes: bool, prices: Path | None, asset: str | None,
            kind: str) -> list[tuple[Series, str | None, str | None]]:
    assets = [asset.upper()] if asset else list(episodes.ASSETS)
    if prices is not None:
        try:
            return [(load_csv(prices, kind=kind), None, asset.upper() if asset else None)]
        except PriceFileError as e:
            raise _fail(str(e)) from None
    if all_episodes:
        chosen = list(episodes.episodes())
    else:
        try:
            chosen = [episodes.resolve(e) for e in episode or []]
        except KeyError as e:
            raise _fail(str(e.args[0])) from None
    for a in assets:
        if a not in episodes.ASSETS:
            raise _fail(f"no bundled data for {a}; assets: {', '.join(episodes.ASSETS)} (or give --prices FILE)")
    return [(episodes.load(e.id, a), e.id, a) for e in chosen for a in assets]


def _policies(names: list[str] | None) -> tuple[str, ...]:
    if not names:
        return POLICIES
    try:
        picked = [parse_policy(p) for n in names for p in n.split(",") if p.strip()]
    except ValueError as e:
        raise _fail(str(e)) from None
    return tuple(p for p in POLICIES if p in picked)


def _chart_paths(runs: list[Any], chart: Path | None) -> list[Path]:
    from bot.stress.chart import default_name

    names = [default_name(r) for r in runs]
    if len(set(names)) < len(names):  # several sides or leverages on the same data
        names = [n.replace(".png", f"-{r.scenario.side}-{r.scenario.leverage:g}x.png")
                 for n, r in zip(names, runs, strict=True)]
    if chart is None:
        return [Path(n) for n in names]
    if len(runs) == 1 and chart.suffix.lower() == ".png":
        return [chart]
    return [chart / n for n in names]


def _opt(*names: str, **kw: Any) -> Any:
    return typer.Option(*names, **kw)


Floats = Annotated[list[float] | None, _opt("--leverage", "-l", help="leverage; repeatable")]
Money = float | None


@stress_app.callback(invoke_without_command=True)
def stress(
    ctx: typer.Context,
    episode: Annotated[list[str] | None, _opt("--episode", "-e", help="episode id or E1..E8; repeatable")] = None,
    all_episodes: Annotated[bool, _opt("--all-episodes", help="every bundled episode")] = False,
    prices: Annotated[Path | None, _opt("--prices", help="CSV of OHLC bars (timestamp,open,high,low,close)")] = None,
    series_kind: Annotated[str, _opt("--series", help="what --prices holds: mark or last (a label)")] = "mark",
    asset: Annotated[str | None, _opt("--asset", help="BTC or ETH (default: both)")] = None,
    symbol: Annotated[str | None, _opt("--symbol", help="symbol traded on --prices data")] = None,
    side: Annotated[str | None, _opt("--side", help="long, short or both (default: the config's)")] = None,
    leverage: Floats = None,
    size: Annotated[Money, _opt("--size", help="position size in contracts (base units)")] = None,
    notional: Annotated[Money, _opt("--notional", help="position size in the settlement currency")] = None,
    entry: Annotated[Money, _opt("--entry", help="entry price (default: the first bar's open)")] = None,
    margin_mode: Annotated[str | None, _opt("--margin-mode", help="isolated or cross")] = None,
    wallet: Annotated[Money, _opt("--wallet", help="futures wallet (free; the pool if cross)")] = None,
    spot: Annotated[Money, _opt("--spot", help="spot wallet")] = None,
    funding: Annotated[Money, _opt("--funding", help="funding wallet")] = None,
    delay_bars: Annotated[int, _opt("--delay-bars", min=0, help="bars from a decision to its fill")] = 1,
    policy: Annotated[list[str] | None, _opt("--policy", "-p", help=f"subset of {', '.join(POLICIES)}")] = None,
    stop_buffer: Annotated[float, _opt("--stop-buffer", min=0.0, max=1.0, help="buffer-stop share")] = 0.05,
    auto_add_trigger: Annotated[float, _opt("--auto-add-trigger", min=0.01, help="margin ratio")] = 1.0,
    hedge_mode: Annotated[bool | None, _opt("--hedge-mode/--one-way", help="account position mode")] = None,
    config: Annotated[Path | None, _opt("--config", "-c", help="YAML config whose rules are stressed")] = None,
    account: Annotated[str | None, _opt("--account", help="configured account whose rules apply")] = None,
    as_json: Annotated[bool, _opt("--json", help="machine-readable report on stdout")] = False,
    chart: Annotated[Path | None, _opt("--chart", help="PNG path (a folder when several runs)")] = None,
    no_chart: Annotated[bool, _opt("--no-chart", help="write no chart")] = False,
    summary: Annotated[bool | None, _opt("--summary/--detail", help="a line per run / a table per run")] = None,
    list_episodes: Annotated[bool, _opt("--list", help="list the bundled episodes and exit")] = False,
) -> None:
    """Replay crash episodes (or your own candles) and compare: no protection, exchange
    auto-add-margin, a fixed-buffer stop, and marginguard's configured rules."""
    if ctx.invoked_subcommand is not None:
        return
    out = Console() if Console().is_terminal else Console(width=200)
    if list_episodes:
        for e in episodes.episodes():
            out.print(f"{e.code}  {e.id:20} {e.title}: {e.crash}", highlight=False)
        return
    if not (episode or all_episodes or prices):
        raise _fail("choose what to replay: --episode ID, --all-episodes or --prices FILE (--list shows the episodes)")
    if size is not None and notional is not None:
        raise _fail("give --size or --notional, not both")
    if side not in (None, "long", "short", "both"):
        raise _fail("--side must be long, short or both")
    if margin_mode not in (None, "isolated", "cross"):
        raise _fail("--margin-mode must be isolated or cross")
    settings = _load_config(config)
    try:
        source = source_account(settings, account)
    except KeyError:
        raise _fail(f"no account {account!r} in the configuration") from None
    given = {"size": size, "notional": notional, "entry": entry, "margin_mode": margin_mode, "wallet": wallet,
             "spot": spot, "funding": funding, "delay_bars": delay_bars, "hedge_mode": hedge_mode,
             "stop_buffer": stop_buffer, "auto_add_trigger": auto_add_trigger, "symbol": symbol}
    jobs = [
        Job(series, scenario, ep, a)
        for series, ep, a in _series(episode, all_episodes, prices, asset, series_kind)
        for scenario in _scenarios(_template(source, a or (symbol or "BTC").split("/")[0]), a, side, leverage, given)
    ]
    chosen = _policies(policy)
    runs = asyncio.run(_run(jobs, settings, source, chosen))
    _output(runs, out, as_json=as_json, chart=None if no_chart else chart, charts=not no_chart, summary=summary)
    if MARGINGUARD in chosen and any(not r.outcomes[MARGINGUARD].survived for r in runs):
        raise typer.Exit(1)


def _scenarios(base: dict[str, Any], asset: str | None, side: str | None, leverages: list[float] | None,
               given: dict[str, Any]) -> list[Scenario]:
    """One scenario per side and leverage: flags over the configured position over defaults."""
    def pick(key: str) -> Any:
        return base.get(key) if given.get(key) is None else given[key]

    sides = ["long", "short"] if side == "both" else [side or base["side"]]
    out = []
    for sd in sides:
        for lev in leverages or [base["leverage"]]:
            try:
                out.append(Scenario(
                    symbol=given["symbol"] or episodes.symbol_for(asset or "BTC"), side=sd,  # type: ignore[arg-type]
                    leverage=lev, contracts=given["size"],
                    notional=None if given["size"] is not None else pick("notional"), entry=given["entry"],
                    margin_mode=pick("margin_mode"), wallet=pick("wallet"), spot=pick("spot"),
                    funding=pick("funding"), delay_bars=given["delay_bars"],
                    hedge_mode=bool(pick("hedge_mode")), taker_fee=base.get("taker_fee", 0.0004),
                    stop_buffer=given["stop_buffer"], auto_add_trigger=given["auto_add_trigger"],
                ))
            except ValueError as e:
                raise _fail(str(e)) from None
    return out


def _output(runs: list[Any], out: Console, *, as_json: bool, chart: Path | None, charts: bool,
            summary: bool | None) -> None:
    from bot.stress.report import render, report_json

    report = report_json(runs)
    if charts:
        from bot.stress.chart import write_chart

        for run, data, path in zip(runs, report["runs"], _chart_paths(runs, chart), strict=True):
            data["chart"] = str(write_chart(run, path))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
        return
    render(report, out, summary=summary)
    written = [r["chart"] for r in report["runs"] if "chart" in r]
    if written:
        out.print(f"chart{'s' if len(written) > 1 else ''}: " + ", ".join(written), highlight=False)


async def _run(jobs: list[Job], settings: Settings, source: AccountSettings | None,
               policies: tuple[str, ...]) -> list[Any]:
    from bot.stress.replay import Journals, replay

    with Journals() as journals:
        return [await replay(j.series, j.scenario, settings, source=source, policies=policies, journals=journals,
                             episode=j.episode, asset=j.asset) for j in jobs]
