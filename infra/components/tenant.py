"""TenantComponent: the constructor shared by a tenant's components that grant to its identities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from infra.components.identities import Identities
from infra.config import TenantConfig


class TenantComponent(pulumi.ComponentResource):
    """A component in the tenant's project whose children grant access to the tenant's identities.

    A subclass names its ``type_token`` and declares its children in :meth:`declare`, which returns
    the component's outputs; the constructor registers them.
    """

    type_token: ClassVar[str]

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.type_token, name, None, opts)
        outputs = self.declare(
            name,
            config=config,
            project_id=project_id,
            identities=identities,
            depends_on=depends_on or [],
        )
        self.register_outputs(outputs)

    def declare(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource],
    ) -> Mapping[str, Any]:
        """Declare the children (``depends_on``: the APIs they call); return the outputs."""
        raise NotImplementedError

    def child_options(self, depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
        """Options of a child that calls the APIs in ``depends_on``.

        Children wait for the APIs they call; a component's own depends_on is not inherited.
        """
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on)
