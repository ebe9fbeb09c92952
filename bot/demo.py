"""``marginguard demo``: a scripted crash on the paper exchange, in simulated time.

The same engine, strategies, guard and journal as the daemon run against a paper account
whose mark follows a scripted fall and rebound. A shadow copy of the account with no rules
runs the same path, so the summary can say what would have happened without the guard.
Simulated time advances one poll interval per step, so cooldowns and re-alert cadences
behave exactly as they would live, while the whole demo takes seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from bot.app import build_app
from bot.exchanges.paper import PaperExchange
from bot.messages import fmt_pct, fmt_price
from bot.notify.console import ConsoleNotifier
from bot.settings import PricePath, Settings

# Mark as a multiple of entry, one entry per poll: a slide, a capitulation wick, a rebound.
CRASH = [
    0.99,
    0.975,
    0.96,
    0.95,
    0.94,
    0.93,
    0.92,
    0.91,
    0.90,
    0.895,
    0.89,
    0.88,
    0.87,
    0.865,
    0.86,
    0.855,
    0.85,
    0.845,
    0.84,
    0.835,
    0.83,
    0.825,
    0.82,
    0.815,
    0.81,
    0.80,
    0.79,
    0.785,
    0.79,
    0.80,
    0.82,
    0.84,
    0.86,
    0.88,
    0.90,
    0.92,
    0.94,
]


class SimClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class DemoOutcome:
    survived: bool
    shadow_liquidated_at: float | None
    min_distance_pct: float | None
    max_tier: str
    actions: list[str] = field(default_factory=list)
    collateral_added: float = 0.0
    contracts_reduced: float = 0.0


def demo_settings(settings: Settings, symbol_steps: list[float]) -> Settings:
    """The configured settings with the first paper account on the scripted crash path and
    only that account enabled."""
    account = next(a for a in settings.accounts if a.is_paper_exchange and a.paper is not None)
    assert account.paper is not None
    first = account.paper.positions[0]
    paper = account.paper.model_copy(
        update={
            "positions": [first],
            "price_path": PricePath(
                kind="scripted",
                steps={first.symbol: symbol_steps},
                start={first.symbol: first.entry_price},
                step_s=settings.poll.interval_s,
            ),
        }
    )
    demo_account = account.model_copy(update={"paper": paper, "enabled": True})
    guard = settings.guard.model_copy(update={"kill_switch_file": None})
    return settings.model_copy(update={"accounts": [demo_account], "guard": guard})


async def run_demo(settings: Settings, *, pace_s: float = 0.12, console: Console | None = None) -> DemoOutcome:
    console = console or Console()
    steps = CRASH
    settings = demo_settings(settings, steps)
    account = settings.accounts[0]
    assert account.paper is not None
    interval = settings.poll.interval_s
    clock = SimClock(time.time() - interval * len(steps))
    notifier = ConsoleNotifier(file=console.file)
    app = build_app(settings, notifier=notifier, clock=clock)
    notifier.store = app.store
    shadow = PaperExchange("shadow", account.paper, clock=clock)
    position = account.paper.positions[0]
    console.rule(
        f"[bold]marginguard demo[/bold]: {position.side} {position.contracts:g} {position.symbol} "
        f"@ {position.entry_price:,.0f}, {position.margin_mode}, mode {settings.mode}"
    )
    console.print(
        f"journal: {settings.database.path}   rules: "
        + ", ".join(f"{r.name} ({r.strategy} at {r.at})" for r in settings.rules_for(account) if r.enabled)
    )
    table = Table(title="distance to liquidation, poll by poll", show_lines=False)
    for col in ("poll", "mark", "liq (guarded)", "distance", "tier", "unguarded liq", "unguarded"):
        table.add_column(col, justify="right")
    min_dist: float | None = None
    max_tier = "ok"
    order = ["ok", "watch", "warning", "danger", "critical"]
    try:
        await app.engine.startup()
        for i in range(len(steps)):
            result = await app.engine.run_cycle(account.name)
            await shadow.snapshot()
            risk = result.risk
            shadow_pos = next(iter(shadow.positions.values()), None)
            shadow_liq = shadow.liquidation_price_of(shadow_pos) if shadow_pos else None
            shadow_state = "LIQUIDATED" if shadow.liquidations else "open"
            if risk and risk.positions:
                r = risk.positions[0]
                min_dist = r.distance_pct if min_dist is None else min(min_dist, r.distance_pct or 0.0)
                if order.index(r.tier.label) > order.index(max_tier):
                    max_tier = r.tier.label
                table.add_row(
                    str(i),
                    fmt_price(r.mark_price),
                    fmt_price(r.liquidation_price),
                    fmt_pct(r.distance_pct),
                    r.tier.label,
                    fmt_price(shadow_liq),
                    shadow_state,
                )
            clock.advance(interval)
            if pace_s:
                await asyncio.sleep(pace_s)
        console.print(table)
        paper = app.adapters[account.name]
        assert isinstance(paper, PaperExchange)
        rows = list(reversed(app.store.actions(limit=100, account=account.name)))
        outcome = DemoOutcome(
            survived=not paper.liquidations and bool(paper.positions),
            shadow_liquidated_at=shadow.liquidations[0].price if shadow.liquidations else None,
            min_distance_pct=min_dist,
            max_tier=max_tier,
            actions=[f"#{r.id} {r.kind} {r.amount:.6g} ({r.status}, {r.mode})" for r in rows],
            collateral_added=sum(r.amount for r in rows if r.kind == "top_up" and r.status == "done"),
            contracts_reduced=sum(r.filled or 0.0 for r in rows if r.kind == "reduce" and r.status == "done"),
        )
        console.rule("[bold]outcome")
        if outcome.shadow_liquidated_at is not None:
            where = fmt_price(outcome.shadow_liquidated_at)
            console.print(f"Without marginguard: [bold red]liquidated[/bold red] at mark {where}.")
        else:
            console.print("Without marginguard: the position would have survived this path.")
        verdict = "[bold green]SURVIVED[/bold green]" if outcome.survived else "[bold red]LIQUIDATED[/bold red]"
        console.print(
            f"With marginguard: {verdict}; worst tier {outcome.max_tier}, closest distance {fmt_pct(min_dist)}; "
            f"collateral added {outcome.collateral_added:.2f} {position.symbol.split(':')[-1]}, "
            f"contracts reduced {outcome.contracts_reduced:.6g}."
        )
        console.print("Actions: " + ("; ".join(outcome.actions) or "none"))
        console.print("See the journal: [bold]marginguard history[/bold]")
        return outcome
    finally:
        await app.close()
