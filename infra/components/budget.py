"""Budget: the tenant's monthly billing budget, alerting its contact by email at each threshold."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.config import TenantConfig


class TenantBudget(pulumi.ComponentResource):
    """A Cloud Billing budget over the tenant's project only, and the email channel it alerts."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        project_number: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])
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
        self.register_outputs({"budget": self.budget.name})
