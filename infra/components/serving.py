"""ServingEndpoints: one Cloud Run model server per endpoint, sized by its preset."""

from __future__ import annotations

import pulumi

from infra.components.cloudrun import private_service, run
from infra.components.identities import Identities
from infra.components.registry import shared_image
from infra.components.tenant import TenantComponent
from infra.config import PRESETS, TenantConfig
from serving.routing import RUNTIME_IMAGES  # brute force: TF Serving; ScaNN: the Python server


class ServingEndpoints(TenantComponent):
    """Private serving services; an endpoint marked ``public`` additionally admits ``allUsers``."""

    services: dict[str, run.Service]

    type_token = "b2brecs:tenant:ServingEndpoints"

    def declare(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource],
    ) -> dict[str, pulumi.Output]:
        self.services = {}
        for endpoint in config.endpoints:
            preset = PRESETS[endpoint.preset]
            envs = [run.ServiceTemplateContainerEnvArgs(name="ENDPOINT", value=endpoint.name)]
            if endpoint.model_uri:
                envs.append(
                    run.ServiceTemplateContainerEnvArgs(name="MODEL_URI", value=endpoint.model_uri)
                )
            invokers: list[pulumi.Input[str]] = [identities.member("app")]
            if endpoint.public:
                invokers.append("allUsers")
            self.services[endpoint.name] = private_service(
                public_resource_name(name, endpoint.name),
                service_name=f"serve-{endpoint.name}",
                project_id=project_id,
                region=config.data_region,
                image=shared_image(config, RUNTIME_IMAGES[endpoint.runtime]),
                service_account=identities.email("serving"),
                cpu=preset.cpu,
                memory=preset.memory,
                min_instances=preset.min_instances,
                max_instances=preset.max_instances,
                labels={**config.all_labels(), "preset": endpoint.preset.value},
                invokers=invokers,
                envs=envs,
                parent=self,
                depends_on=depends_on,
            )
        return {key: svc.uri for key, svc in self.services.items()}


def public_resource_name(component: str, endpoint: str) -> str:
    """Logical name of an endpoint's service; policy checks use it to recognise public ones."""
    return f"{component}-{endpoint}"
