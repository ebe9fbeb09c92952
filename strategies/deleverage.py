"""deleverage: reduce-only order down to the size whose liquidation is ``target_distance_pct``
away (``bot.risk.contracts_to_reduce_to_target``, fee included). Never more than the position,
so it can never flip the side.

Isolated venues release margin pro rata on a partial close, which would leave the
liquidation price where it was; the action therefore asks the adapter to retain the margin
(``retain_margin``): the whole margin balance keeps backing what is left.
"""

from __future__ import annotations

from typing import ClassVar

from bot.domain import Action, ActionKind, PositionRisk
from bot.risk.sizing import contracts_after_reduce_entry_fixed, contracts_to_reduce_to_target
from strategies.base import PlanContext, base_action_fields, short_of_target


class Deleverage:
    name: ClassVar[str] = "deleverage"
    # Proposes nothing until its rule fires: the engine does not ask it before then.
    silent_until_fired: ClassVar[bool] = True

    def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]:
        p = ctx.position
        inputs = short_of_target(risk, ctx, "reduce")
        if inputs is None:
            return []
        target, terms = inputs.target_distance_pct, inputs.terms
        if p.liquidation_model == "entry_fixed":
            after = contracts_after_reduce_entry_fixed(
                p.side,
                p.contracts,
                p.entry_price,
                terms.wallet,
                inputs.tiers,
                p.mark_price,
                target,
                contract_size=p.contract_size,
                inverse=p.inverse,
                taker_fee=ctx.taker_fee,
            )
            amount = max(0.0, p.contracts - after)
        else:
            amount = contracts_to_reduce_to_target(
                p.side,
                p.contracts,
                p.entry_price,
                terms.wallet,
                inputs.tiers,
                p.mark_price,
                target,
                contract_size=p.contract_size,
                inverse=p.inverse,
                other_maintenance=terms.other_maintenance,
                other_unrealized_pnl=terms.other_unrealized_pnl,
                taker_fee=ctx.taker_fee,
            )
        amount = min(amount, p.contracts)
        if amount <= 0.0:
            return []
        return [
            Action(
                kind=ActionKind.REDUCE,
                amount=amount,
                target_distance_pct=target,
                retain_margin=p.margin_mode == "isolated",
                reason=f"reduce {amount:.6g} of {p.contracts:.6g} contracts: liquidation to {target:g}% from mark",
                **base_action_fields(risk, ctx, self.name),  # type: ignore[arg-type]
            )
        ]
