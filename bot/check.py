"""``marginguard check --once``: one snapshot and assessment per account, printed. Read-only:
it sends no action and writes no journal row."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.assess import assess
from bot.engine import assess_config
from bot.messages import fmt_pct, fmt_price
from bot.settings import Settings


async def check_once(settings: Settings) -> dict[str, Any]:
    from bot.app import make_adapter

    accounts: list[dict[str, Any]] = []
    for account in settings.accounts:
        if not account.enabled:
            continue
        entry: dict[str, Any] = {"account": account.name, "name": account.name, "exchange": account.exchange}
        adapter = None
        try:
            adapter = make_adapter(settings, account)
            snapshot = await adapter.snapshot()
            risk = assess(snapshot, assess_config(settings, account), time.time())
            entry.update(risk.as_json())
            entry["error"] = None
            entry["requests"] = getattr(adapter, "request_count", None)
        except Exception as e:  # one broken account must not hide the others
            entry.update({"tier": None, "positions": [], "error": f"{type(e).__name__}: {e}"})
        finally:
            if adapter is not None:
                await adapter.close()
        accounts.append(entry)
    return {"generated_at": time.time(), "mode": settings.mode, "accounts": accounts}


def render_table(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"marginguard check ({report['mode']} mode)")
    for col in (
        "account",
        "symbol",
        "side",
        "contracts",
        "entry",
        "mark",
        "liq",
        "liq reported",
        "distance",
        "σ",
        "tier",
    ):
        table.add_column(col, justify="right" if col not in ("account", "symbol", "side", "tier") else "left")
    for acc in report["accounts"]:
        if acc.get("error"):
            table.add_row(acc["account"], "-", "-", "-", "-", "-", "-", "-", "-", "-", f"ERROR: {acc['error']}")
            continue
        for p in acc["positions"]:
            sigma = p.get("distance_sigma")
            table.add_row(
                acc["account"],
                p["symbol"],
                p["side"],
                f"{p['contracts']:g}",
                fmt_price(p["entry_price"]),
                fmt_price(p["mark_price"]),
                fmt_price(p["liquidation_price"]),
                fmt_price(p["liquidation_price_reported"]),
                fmt_pct(p["distance_pct"]),
                "-" if sigma is None else f"{sigma:.1f}",
                p["tier"],
            )
        for reason in acc.get("untrusted") or []:
            table.add_row(acc["account"], "", "", "", "", "", "", "", "", "", f"untrusted: {reason}")
    console.print(table)
