"""hedge: open an opposite leg so that ``target_net_exposure_pct`` of the position stays
unhedged, and close it again (unwind) once the position is back at ``unwind_at`` or calmer.

The leg goes on the same account in hedge (dual-side) mode, or on the configured
``hedge_account``. Only in the first case, with cross margin, does it move the liquidation
price (the legs share one margin pool); on a separate account it caps the loss, not the
liquidation. The hedge is the one action allowed to add exposure, and never more than the
position: it cannot flip the net side.
"""

from __future__ import annotations

from typing import ClassVar

from bot.domain import Action, ActionKind, PositionRisk
from bot.risk.escalation import RiskTier
from bot.risk.sizing import hedge_contracts
from strategies.base import PlanContext, base_action_fields


class Hedge:
    name: ClassVar[str] = "hedge"

    def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]:
        rule, p = ctx.rule, ctx.position
        if not rule.enabled or p.is_hedge_leg or rule.target_net_exposure_pct is None:
            return []
        hedged = ctx.hedged_contracts.get(risk.key, 0.0)
        fields = base_action_fields(risk, ctx, self.name)
        if hedged > 0.0:
            if rule.unwind_at is not None and ctx.observed_tier <= RiskTier.parse(rule.unwind_at):
                return [
                    Action(
                        kind=ActionKind.UNWIND,
                        amount=hedged,
                        hedge_account=ctx.hedge_account,
                        reason=f"back at {ctx.observed_tier.label}: close the {hedged:.6g}-contract hedge",
                        **fields,  # type: ignore[arg-type]
                    )
                ]
            return []
        if not ctx.fires():
            return []
        if not ctx.hedge_mode and ctx.hedge_account is None:
            ctx.note("the hedge rule needs hedge (dual-side) mode on the account or a hedge_account")
            return []
        amount = hedge_contracts(p.contracts, rule.target_net_exposure_pct)
        if amount <= 0.0:
            return []
        where = f"on {ctx.hedge_account}" if ctx.hedge_account else "in hedge mode"
        return [
            Action(
                kind=ActionKind.HEDGE,
                amount=amount,
                hedge_account=ctx.hedge_account,
                reason=f"hedge {amount:.6g} contracts {where}, leaving {rule.target_net_exposure_pct:g}% net exposure",
                **fields,  # type: ignore[arg-type]
            )
        ]
