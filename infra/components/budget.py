"""Budget: the tenant's monthly billing budget, alerting its contact by email at each threshold."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.components.tenant import TenantComponent, TenantContext


class TenantBudget(TenantComponent):
    """A Cloud Billing budget over the tenant's project only, and the email channel it alerts."""

    apis = ("monitoring",)
    type_token = "b2brecs:tenant:Budget"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, project_number = ctx.config, ctx.project_id, ctx.project_number
        child = self.child_options()
        channel = gcp.monitoring.NotificationChannel(
            f"{name}-contact",
            project=project_id,
            display_name=f"{config.id} budget contact",
            type="email",
            labels={"email_address": config.contact_email},
            opts=child,
        )
        budget = config.budget
        self.budget = gcp.billing.Budget(
            f"{name}-monthly",
            billing_account=config.billing_account,
            display_name=f"{config.id} monthly"[:60],
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[pulumi.Output.concat("projects/", project_number)],
                calendar_period="MONTH",
            ),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code=budget.currency, units=str(budget.amount)
                )
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(threshold_percent=t) for t in budget.thresholds
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                monitoring_notification_channels=[channel.id],
                disable_default_iam_recipients=False,
            ),
            opts=child,
        )
        return {"budget": self.budget.name}
