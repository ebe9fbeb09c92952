"""What a stress replay reports, as JSON and as terminal tables.

Per policy:

* ``survived``: the protected position was never liquidated (a stop or a full reduce closing
  it is survival; ``closed_at`` says when). ``liquidated_at`` / ``liquidation_price``.
* ``min_distance_pct``: the closest the price came to the liquidation price in force, in
  percent of that price, over every price the replay evaluated (opens, adverse extremes,
  closes) while the position was open, before any reaction; 0 or less means the price
  reached or crossed it (auto-add-margin replenishes only there).
* ``collateral_added`` (settlement currency; top-ups or replenishments), ``contracts_reduced``
  (reduce orders, stop), ``hedge_notional`` (opposite legs opened, at their fill price),
  ``actions`` (orders and margin moves that went through), ``max_tier`` (the worst tier the
  engine's assessment gave at a bar close).
* equity = every wallet + isolated margins + unrealised PnL at the last close.
  ``equity_vs_hold`` = this policy's final equity minus that of ``none`` (the unprotected
  position held, liquidation included): what the protection gained (+) or cost (-) over the
  episode. ``equity_vs_start`` = final minus starting equity (the whole account's result).
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.stress import episodes
from bot.stress.policies import MARGINGUARD, NONE
from bot.stress.prices import iso
from bot.stress.replay import PolicyOutcome, RunResult


def _r(x: float | None, nd: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, nd)


def policy_json(o: PolicyOutcome, hold: PolicyOutcome, initial_contracts: float) -> dict[str, Any]:
    closed = next((e for e in o.events if e.kind == "stop" and e.status == "done"), None)
    if closed is None and o.survived and o.trace.contracts and o.trace.contracts[-1] == 0.0:
        closed = next((e for e in reversed(o.events) if e.kind == "reduce" and e.status == "done"), None)
    return {
        "survived": o.survived,
        "liquidated_at": iso(o.liquidation.ts) if o.liquidation else None,
        "liquidation_price": _r(o.liquidation.price) if o.liquidation else None,
        "closed_at": iso(closed.ts) if closed else None,
        "min_distance_pct": _r(o.min_distance_pct, 4),
        "min_distance_at": iso(o.min_distance_at) if o.min_distance_at is not None else None,
        "collateral_added": _r(o.collateral_added, 4),
        "contracts_reduced": _r(o.contracts_reduced, 8),
        "contracts_reduced_pct": _r(o.contracts_reduced / initial_contracts * 100.0, 4) if initial_contracts else None,
        "hedge_notional": _r(o.hedge_notional, 4),
        "actions": o.actions,
        "max_tier": o.max_tier,
        "equity_start": _r(o.equity_start, 4),
        "equity_end": _r(o.equity_end, 4),
        "equity_vs_hold": _r(o.equity_end - hold.equity_end, 4),
        "equity_vs_start": _r(o.equity_end - o.equity_start, 4),
        "refused": o.refused,
        "events": [{k: (_r(v) if isinstance(v, float) else v) for k, v in e.as_json().items()} for e in o.events],
    }


def run_json(run: RunResult) -> dict[str, Any]:
    s = run.series
    hold = run.outcomes[NONE]
    episode = episodes.resolve(run.episode) if run.episode else None
    return {
        "episode": run.episode,
        "episode_code": episode.code if episode else None,
        "asset": run.asset,
        "series": {
            "name": s.name, "kind": s.kind, "interval": s.interval_label, "bars": len(s), "start": iso(s.start),
            "end": iso(s.end), "first_open": s.open[0], "min_low": min(s.low), "max_high": max(s.high),
            "notes": list(s.notes),
        },
        "scenario": {k: (_r(v) if isinstance(v, float) else v) for k, v in run.scenario.as_json(s).items()},
        "policies": {name: policy_json(o, hold, run.contracts) for name, o in run.outcomes.items()},
    }


def report_json(runs: list[RunResult]) -> dict[str, Any]:
    return {"runs": [run_json(r) for r in runs]}


# -- terminal ---------------------------------------------------------------------------------

def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+,.2f}"


def _when(ts: str | None) -> str:
    return "-" if ts is None else ts[5:16].replace("T", " ")


def title(run: dict[str, Any]) -> str:
    sc, s = run["scenario"], run["series"]
    where = f"{run['episode_code']} {run['episode']} {run['asset']}" if run["episode"] else s["name"]
    wallets = f"wallet {sc['wallet']:,.0f} futures"
    wallets += f" + {sc['spot']:,.0f} spot" if sc["spot"] else ""
    wallets += f" + {sc['funding']:,.0f} funding" if sc["funding"] else ""
    return (f"{where}: {sc['side']} {sc['leverage']:g}x {sc['margin_mode']}, {sc['notional']:,.0f} {sc['currency']} "
            f"@ {sc['entry']:,.2f}; {wallets}; {s['kind']} {s['interval']} x {s['bars']}, "
            f"{s['start'][:10]} to {s['end'][:10]}; reaction delay {sc['delay_bars']} bar(s)")


def run_table(run: dict[str, Any]) -> Table:
    t = Table(title=title(run), title_justify="left", show_lines=False)
    for col in ("policy", "survived", "liquidated", "closest", "collateral", "reduced", "hedge", "actions", "max tier",
                "end equity", "vs hold", "vs start"):
        t.add_column(col, justify="left" if col in ("policy", "survived", "max tier") else "right")
    for name, p in run["policies"].items():
        ok = "[green]yes[/green]" if p["survived"] else "[bold red]NO[/bold red]"
        if p["closed_at"]:
            ok += f" (closed {_when(p['closed_at'])})"
        dist = "-" if p["min_distance_pct"] is None else f"{p['min_distance_pct']:.2f}%"
        reduced = "-" if not p["contracts_reduced"] else f"{p['contracts_reduced_pct']:.0f}%"
        t.add_row(name, ok, _when(p["liquidated_at"]), dist, _money(p["collateral_added"]), reduced,
                  _money(p["hedge_notional"]) if p["hedge_notional"] else "-", str(p["actions"]), p["max_tier"] or "-",
                  _money(p["equity_end"]), _signed(p["equity_vs_hold"]), _signed(p["equity_vs_start"]))
    return t


def summary_table(report: dict[str, Any]) -> Table:
    """One row per run, one cell per policy: survived with the collateral it took, or when it died."""
    runs = report["runs"]
    names = list(runs[0]["policies"]) if runs else []
    t = Table(title="survival and collateral (liquidated: when)", title_justify="left")
    for col in ("episode", "asset", "side", "lev", *names):
        t.add_column(col, justify="right" if col == "lev" else "left")
    if MARGINGUARD in names:
        t.add_column("mg vs hold", justify="right")
    for run in runs:
        sc = run["scenario"]
        cells = []
        for name in names:
            p = run["policies"][name]
            if not p["survived"]:
                cells.append(f"[red]LIQ {_when(p['liquidated_at'])}[/red]")
            elif name == NONE:
                cells.append("[green]ok[/green]")
            elif p["collateral_added"]:
                cells.append(f"[green]ok[/green] +{p['collateral_added']:,.0f}")
            elif p["contracts_reduced"]:
                cells.append(f"[green]ok[/green] -{p['contracts_reduced_pct']:.0f}%")
            else:
                cells.append("[green]ok[/green]")
        extra = [_signed(run["policies"][MARGINGUARD]["equity_vs_hold"])] if MARGINGUARD in names else []
        where = f"{run['episode_code']} {run['episode']}" if run["episode"] else run["series"]["name"]
        t.add_row(where, run["asset"] or "-", sc["side"], f"{sc['leverage']:g}x", *cells, *extra)
    return t


def render(report: dict[str, Any], console: Console, *, summary: bool | None = None) -> None:
    runs = report["runs"]
    if summary is None:
        summary = len(runs) > 2
    if summary:
        console.print(summary_table(report))
        return
    for run in runs:
        console.print(run_table(run))
        for note in run["series"]["notes"]:
            console.print(f"  [yellow]data:[/yellow] {note}")
