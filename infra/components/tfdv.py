"""TfdvParser: the TFDV statistics/schema parser service, callable by the app only."""

from __future__ import annotations

import pulumi

from infra import naming
from infra.components.cloudrun import private_service, run
from infra.components.registry import shared_image
from infra.components.storage import BUCKETS
from infra.components.tenant import TenantComponent, TenantContext


class TfdvParser(TenantComponent):
    """A private Cloud Run service running as ``tfdv-parser``."""

    apis = ("run",)
    type_token = "b2brecs:tenant:TfdvParser"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        self.service = private_service(
            f"{name}-service",
            service_name="tfdv-parser",
            project_id=project_id,
            region=config.data_region,
            image=shared_image(config, "tfdv-parser"),
            service_account=identities.email("tfdv"),
            cpu="1",
            memory="2Gi",
            min_instances=0,
            max_instances=3,
            labels=config.all_labels(),
            invokers=[identities.member("app")],
            # The runs' pipeline roots: the only artifacts the service may read.
            envs=[
                run.ServiceTemplateContainerEnvArgs(
                    name="ARTIFACT_ROOTS",
                    value=",".join(
                        f"gs://{naming.bucket(config.gcp_project_id, BUCKETS[k][0])}/"
                        for k in ("quicktest", "training")
                    ),  # fmt: skip
                )
            ],
            parent=self,
            depends_on=self.depends_on,
        )
        return {"url": self.service.uri}
