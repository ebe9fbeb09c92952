"""alert: tell the trader, move no money.

Tier-change alerts, de-escalation notices and re-alerts are produced by the engine for every
position; an ``alert`` rule sets from which tier they are announced (``at: watch`` by default;
``at: warning`` keeps the quieter tiers silent). It never proposes an action.
"""

from __future__ import annotations

from typing import ClassVar

from bot.domain import Action, PositionRisk
from strategies.base import PlanContext


class Alert:
    name: ClassVar[str] = "alert"

    def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]:
        return []
