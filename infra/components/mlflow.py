"""MlflowService: the MLflow tracking server on Cloud Run with a Cloud SQL PostgreSQL store."""

from __future__ import annotations

import urllib.parse

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.cloudrun import private_service, run
from infra.components.identities import Identities
from infra.components.registry import shared_image
from infra.components.secrets import declare_secret
from infra.config import TenantConfig

DB_NAME = "mlflow"
DB_USER = "mlflow"


def db_uri(password: str, connection_name: str) -> str:
    """The MLflow database URI over the Cloud SQL socket; user and password are encoded, so a
    password holding '@', '%', '?', '#' or '/' does not break it."""
    user, secret = (urllib.parse.quote(v, safe="") for v in (DB_USER, password))
    return f"postgresql://{user}:{secret}@/{DB_NAME}?host=/cloudsql/{connection_name}"


class MlflowService(pulumi.ComponentResource):
    """PostgreSQL instance, database, user, connection-URI secret and the private server."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        artifact_bucket: gcp.storage.Bucket,
        db_password: pulumi.Output[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:MlflowService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sizing = config.mlflow
        instance = gcp.sql.DatabaseInstance(
            f"{name}-db",
            project=project_id,
            name=naming.check("sql_instance", f"{config.id}-mlflow-pg"),
            region=config.data_region,
            database_version="POSTGRES_15",
            deletion_protection=True,
            settings=gcp.sql.DatabaseInstanceSettingsArgs(
                tier=sizing.db_tier,
                disk_size=sizing.db_disk_gb,
                user_labels=config.all_labels(),
                backup_configuration=gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                    enabled=True, point_in_time_recovery_enabled=True
                ),
                # Public IP without authorized networks: only the Cloud SQL connector (IAM
                # checked, used by Cloud Run's socket mount) can reach it.
                ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=True, ssl_mode="ENCRYPTED_ONLY"
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
        )
        gcp.sql.Database(
            f"{name}-database", project=project_id, instance=instance.name, name=DB_NAME, opts=child
        )
        gcp.sql.User(
            f"{name}-user",
            project=project_id,
            instance=instance.name,
            name=DB_USER,
            password=pulumi.Output.secret(db_password),
            opts=child,
        )
        uri = pulumi.Output.all(db_password, instance.connection_name).apply(
            lambda values: db_uri(*values)
        )
        uri_secret = declare_secret(
            f"{name}-db-uri",
            secret_id="mlflow-db-uri",
            value=pulumi.Output.secret(uri),
            project_id=project_id,
            region=config.data_region,
            labels=config.all_labels(),
            accessors=[identities.member("mlflow")],
            parent=self,
            depends_on=depends_on,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-artifacts-objectAdmin",
            bucket=artifact_bucket.name,
            role="roles/storage.objectAdmin",
            member=identities.member("mlflow"),
            opts=child,
        )
        self.service = private_service(
            f"{name}-server",
            service_name="mlflow-server",
            project_id=project_id,
            region=config.data_region,
            image=shared_image(config, "mlflow-server"),
            service_account=identities.email("mlflow"),
            cpu=sizing.cpu,
            memory=sizing.memory,
            min_instances=sizing.min_instances,
            max_instances=sizing.max_instances,
            labels=config.all_labels(),
            # The app reads runs; the trainer, running as pipelines-runner, logs them.
            invokers=[identities.member("app"), identities.member("pipelines")],
            envs=[
                run.ServiceTemplateContainerEnvArgs(
                    name="MLFLOW_BACKEND_STORE_URI",
                    value_source=run.ServiceTemplateContainerEnvValueSourceArgs(
                        secret_key_ref=run.ServiceTemplateContainerEnvValueSourceSecretKeyRefArgs(
                            secret=uri_secret.secret_id, version="latest"
                        )
                    ),
                ),
                run.ServiceTemplateContainerEnvArgs(
                    name="MLFLOW_ARTIFACT_ROOT", value=artifact_bucket.url
                ),
            ],
            volumes=[
                run.ServiceTemplateVolumeArgs(
                    name="cloudsql",
                    cloud_sql_instance=run.ServiceTemplateVolumeCloudSqlInstanceArgs(
                        instances=[instance.connection_name]
                    ),
                )
            ],
            volume_mounts=[
                run.ServiceTemplateContainerVolumeMountArgs(name="cloudsql", mount_path="/cloudsql")
            ],
            parent=self,
            depends_on=depends_on,
        )
        self.register_outputs({"url": self.service.uri})
