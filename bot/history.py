"""``marginguard history``: the journal, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.store import Store


def history_report(db_path: Path, *, limit: int = 50, account: str | None = None) -> dict[str, Any]:
    if not Path(db_path).exists():
        return {"database": str(db_path), "actions": [], "alerts": [], "commands": []}
    store = Store(db_path)
    try:
        actions = [r.model_dump() for r in store.actions(limit=limit, account=account)]
        for a in actions:
            if a.get("details"):
                a["details"] = json.loads(a["details"])
        alerts = [r.model_dump() for r in store.alerts(limit=limit, account=account)]
        commands = [r.model_dump() for r in store.commands(limit=limit)]
    finally:
        store.close()
    return {"database": str(db_path), "actions": actions, "alerts": alerts, "commands": commands}


def render_history(report: dict[str, Any], console: Console) -> None:
    import time

    def when(ts: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

    t = Table(title=f"actions ({report['database']})")
    for col in (
        "#",
        "time",
        "account",
        "symbol",
        "kind",
        "amount",
        "mode",
        "status",
        "distance before→after",
        "reason",
    ):
        t.add_column(col)
    for a in report["actions"]:
        before = "n/a" if a["distance_before"] is None else f"{a['distance_before']:.2f}%"
        after = a["distance_after"] if a["distance_after"] is not None else a["expected_distance_after"]
        after_s = "n/a" if after is None else f"{after:.2f}%"
        t.add_row(
            str(a["id"]),
            when(a["created_at"]),
            a["account"],
            a["symbol"],
            a["kind"],
            f"{a['amount']:.6g}",
            a["mode"],
            a["status"],
            f"{before} → {after_s}",
            a["reason"],
        )
    console.print(t)
    t = Table(title="alerts")
    for col in ("#", "time", "kind", "tier", "delivered", "text"):
        t.add_column(col)
    for a in report["alerts"]:
        t.add_row(
            str(a["id"]),
            when(a["ts"]),
            a["kind"],
            a["tier"] or "",
            "yes" if a["delivered_at"] else "no",
            a["text"].splitlines()[0],
        )
    console.print(t)
    if report["commands"]:
        t = Table(title="commands")
        for col in ("time", "user", "text", "accepted", "outcome"):
            t.add_column(col)
        for c in report["commands"]:
            t.add_row(when(c["ts"]), str(c["user_id"]), c["text"], "yes" if c["accepted"] else "NO", c["outcome"])
        console.print(t)
