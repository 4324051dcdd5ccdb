"""GpuQuota: a Cloud Quotas preference for Vertex AI training GPUs in the training region."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.config import GPU_QUOTA_IDS, TenantConfig


class GpuQuota(pulumi.ComponentResource):
    """Asks for ``gpu.count`` GPUs of ``gpu.type`` in ``training_region``; nothing when 0."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:GpuQuota", name, None, opts)
        self.preference: gcp.cloudquota.SQuotaPreference | None = None
        gpu = config.gpu
        if gpu.count > 0:
            gpu_slug = gpu.type.lower().removeprefix("nvidia_").replace("_", "-")
            self.preference = gcp.cloudquota.SQuotaPreference(
                f"{name}-{gpu_slug}",
                parent=pulumi.Output.concat("projects/", project_id),
                name=f"aiplatform-{gpu_slug}-training-{config.training_region}",
                service="aiplatform.googleapis.com",
                quota_id=GPU_QUOTA_IDS[gpu.type],
                dimensions={"region": config.training_region},
                quota_config=gcp.cloudquota.SQuotaPreferenceQuotaConfigArgs(
                    preferred_value=str(gpu.count)
                ),
                contact_email=config.contact_email,
                justification=f"Vertex AI custom training for tenant {config.id}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
            )
        self.register_outputs({"gpu_count": gpu.count})
