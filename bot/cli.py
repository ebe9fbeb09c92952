"""Command line: ``marginguard run | demo | check | history | config check | stress | health``.

Configuration is found in this order: ``--config FILE``, ``$MARGINGUARD_CONFIG``,
``./marginguard.yaml``, then the embedded default (a paper account). A bad configuration
exits with status 2 before anything else is touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot import __version__
from bot.logs import setup_logging
from bot.settings import ConfigError, Settings, config_warnings, load_settings, redacted_dump

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="marginguard: stands guard over leveraged positions."
)
config_app = typer.Typer(no_args_is_help=True, help="Configuration commands.")
app.add_typer(config_app, name="config")



@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def stress(ctx: typer.Context) -> None:
    """Replay real crashes against guard policies (see `marginguard stress --help`)."""
    from bot.stress.command import stress_app  # imported here: the replay stack is heavy

    stress_app(args=list(ctx.args), prog_name="marginguard stress")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (default: see docs)")]
EXIT_CONFIG = 2


def out_console() -> Console:
    """stdout console; tables keep every column when piped to a file or a pager."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def resolve_config_path(path: Path | None) -> Path | None:
    if path is not None:
        return path
    env = os.environ.get("MARGINGUARD_CONFIG")
    if env:
        return Path(env)
    local = Path("marginguard.yaml")
    return local if local.exists() else None


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def load_or_exit(path: Path | None, err: Console) -> tuple[Settings, Path | None]:
    path = resolve_config_path(path)
    try:
        settings = load_settings(path)
    except ConfigError as e:
        err.print(f"[bold red]configuration error[/bold red] in {path or 'embedded default'}:", highlight=False)
        for problem in e.problems:
            err.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_CONFIG) from None
    for warning in config_warnings(path, settings):
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return settings, path


@app.command()
def run(config: ConfigOpt = None) -> None:
    """Run the guard daemon until SIGINT/SIGTERM."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    setup_logging(settings)
    from bot.app import build_app, run_daemon

    async def main() -> None:
        await run_daemon(build_app(settings))

    asyncio.run(main())


@app.command()
def demo(
    config: ConfigOpt = None,
    fast: Annotated[bool, typer.Option(help="no pauses between polls")] = False,
) -> None:
    """A scripted crash on the paper exchange: escalation, alerts, protective actions."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    if not any(a.is_paper_exchange for a in settings.accounts):
        err.print("demo needs a paper account in the configuration (the embedded default has one)")
        raise typer.Exit(EXIT_CONFIG)
    setup_logging(settings, level="WARNING")
    from bot.demo import run_demo

    outcome = asyncio.run(run_demo(settings, pace_s=0.0 if fast else 0.12))
    raise typer.Exit(0 if outcome.survived else 1)


@app.command()
def check(
    config: ConfigOpt = None,
    once: Annotated[bool, typer.Option("--once", help="one snapshot and assessment, then exit")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Fetch every account once and print its risk table. Read-only: no action, no journal."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    setup_logging(settings, level="WARNING")
    from bot.check import check_once, render_table

    report = asyncio.run(check_once(settings))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
    else:
        render_table(report, out_console())
    raise typer.Exit(1 if any(a.get("error") for a in report["accounts"]) else 0)


@app.command()
def history(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    limit: Annotated[int, typer.Option(help="entries per kind")] = 50,
    account: Annotated[str | None, typer.Option(help="only this account")] = None,
) -> None:
    """Show the journal: actions, alerts and commands, newest first."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    from bot.history import history_report, render_history

    report = history_report(settings.database.path, limit=limit, account=account)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        render_history(report, out_console())


@app.command()
def settle(
    action_id: Annotated[int, typer.Argument(help="journal id of the open action (see `history`)")],
    outcome: Annotated[str, typer.Argument(help="done or failed: what the exchange's own history shows")],
    note: Annotated[str, typer.Option(help="why (kept in the journal)")] = "",
    config: ConfigOpt = None,
) -> None:
    """Settle an action whose outcome the exchange could not tell us. Until then the account
    takes no new action; check the exchange first. Works while the daemon runs."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    from bot.store import Store

    store = Store(settings.database.path)
    try:
        row = store.settle_manually(action_id, outcome, note)
    except (KeyError, ValueError) as e:
        err.print(f"cannot settle: {e.args[0]}")
        raise typer.Exit(1) from None
    finally:
        store.close()
    Console().print(f"action #{row.id} ({row.kind} {row.account} {row.symbol}) settled as {row.status}")


@config_app.command("check")
def config_check(
    config: ConfigOpt = None,
    show: Annotated[bool, typer.Option(help="print the effective configuration (secrets hidden)")] = False,
) -> None:
    """Validate the configuration; exit 0 if good, 2 with the key and the fix if not."""
    err = err_console()
    settings, path = load_or_exit(config, err)
    out = Console()
    names = ", ".join(f"{a.name} ({a.exchange})" for a in settings.accounts)
    out.print(
        f"[green]configuration OK[/green]: {path or 'embedded default'}; mode {settings.mode}; accounts: {names}",
        highlight=False,
    )
    if show:
        sys.stdout.write(json.dumps(redacted_dump(settings), indent=2) + "\n")


@app.command()
def health(
    config: ConfigOpt = None,
    max_age: Annotated[float | None, typer.Option(help="seconds (default: health.max_cycle_age_s)")] = None,
) -> None:
    """Exit 0 if the daemon completed a cycle recently (for Docker HEALTHCHECK), else 1."""
    err = err_console()
    settings, _ = load_or_exit(config, err)
    hb = settings.health.heartbeat_file
    limit = max_age if max_age is not None else settings.health.max_cycle_age_s
    if hb is None or not hb.exists():
        err.print("unhealthy: no heartbeat file yet")
        raise typer.Exit(1)
    age = time.time() - hb.stat().st_mtime
    if age > limit:
        err.print(f"unhealthy: last good cycle {age:.0f}s ago (limit {limit:.0f}s)")
        raise typer.Exit(1)
    Console().print(f"healthy: last good cycle {age:.0f}s ago")


@app.command()
def version() -> None:
    """Print the version."""
    Console().print(f"marginguard {__version__}")


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)


if __name__ == "__main__":  # pragma: no cover
    main()
