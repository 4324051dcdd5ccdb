"""TfdvParser: the TFDV statistics/schema parser service, callable by the app only."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.cloudrun import private_service, run
from infra.components.registry import shared_image
from infra.components.storage import BUCKETS, DATA_PREFIX, prefix_condition
from infra.components.tenant import TenantComponent, TenantContext


class TfdvParser(TenantComponent):
    """A private Cloud Run service running as ``tfdv-parser``."""

    apis = ("run", "storage")
    type_token = "b2brecs:tenant:TfdvParser"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities

        def bucket(purpose: str) -> str:
            return naming.bucket(config.gcp_project_id, BUCKETS[purpose][0])

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
            # The runs' pipeline roots (gone after their retention) and the registered runs'
            # statistics and schemas, kept beside the models: the only artifacts it may read.
            envs=[
                run.ServiceTemplateContainerEnvArgs(
                    name="ARTIFACT_ROOTS",
                    value=",".join(
                        [
                            *(f"gs://{bucket(k)}/" for k in ("quicktest", "training")),
                            f"gs://{bucket('models')}/{DATA_PREFIX}/",
                        ]
                    ),  # fmt: skip
                )
            ],
            parent=self,
            depends_on=self.depends_on,
        )
        # The run buckets' grants are Storage's; of the models bucket, only the data prefix.
        gcp.storage.BucketIAMMember(
            f"{name}-models-data-reader",
            bucket=bucket("models"),
            role="roles/storage.objectViewer",
            member=identities.member("tfdv"),
            condition=prefix_condition(bucket("models"), DATA_PREFIX, "registered-run-data"),
            opts=self.child_options(),
        )
        return {"url": self.service.uri}
