"""GpuQuota: a Cloud Quotas preference for Vertex AI training GPUs in the training region."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.components.tenant import TenantComponent, TenantContext
from infra.config import GPU_QUOTA_IDS


class GpuQuota(TenantComponent):
    """Asks for ``gpu.count`` GPUs of ``gpu.type`` in ``training_region``; nothing when 0."""

    apis = ("cloudquotas",)
    type_token = "b2brecs:tenant:GpuQuota"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, int]:
        config = ctx.config
        self.preference: gcp.cloudquota.SQuotaPreference | None = None
        gpu = config.gpu
        if gpu.count > 0:
            gpu_slug = gpu.type.lower().removeprefix("nvidia_").replace("_", "-")
            self.preference = gcp.cloudquota.SQuotaPreference(
                f"{name}-{gpu_slug}",
                parent=pulumi.Output.concat("projects/", ctx.project_id),
                name=f"aiplatform-{gpu_slug}-training-{config.training_region}",
                service="aiplatform.googleapis.com",
                quota_id=GPU_QUOTA_IDS[gpu.type],
                dimensions={"region": config.training_region},
                quota_config=gcp.cloudquota.SQuotaPreferenceQuotaConfigArgs(
                    preferred_value=str(gpu.count)
                ),
                contact_email=config.contact_email,
                justification=f"Vertex AI custom training for tenant {config.id}",
                opts=self.child_options(),
            )
        return {"gpu_count": gpu.count}
