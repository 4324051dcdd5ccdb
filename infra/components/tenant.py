"""TenantContext and TenantComponent: what every component of a tenant's stack is built from.

A component names its type token and the APIs its children call, and declares its children in
`declare(name, ctx)`; the constructor does the rest (waits for those APIs, registers outputs).
Adding a component is one small file and one line in `infra.program.build_tenant`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi

from infra.components.identities import Identities
from infra.config import TenantConfig


@dataclass(frozen=True)
class TenantContext:
    """The tenant's validated config and the project-level resources every component uses."""

    config: TenantConfig
    project_id: pulumi.Input[str]
    project_number: pulumi.Input[str]
    identities: Identities
    needs: Callable[..., list[pulumi.Resource]]
    """`needs("run", "storage")`: the enabled-API resources to wait for."""


class TenantComponent(pulumi.ComponentResource):
    """A component of the tenant's project.

    Subclasses set `type_token` and `apis` (short names, e.g. `("run",)`) and implement
    :meth:`declare`, which returns the component's outputs.
    """

    type_token: ClassVar[str]
    apis: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        ctx: TenantContext,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.type_token, name, None, opts)
        # Children wait for the APIs they call; a component's own depends_on is not inherited.
        self.depends_on: list[pulumi.Resource] = [*ctx.needs(*self.apis), *depends_on]
        self.register_outputs(self.declare(name, ctx))

    def declare(self, name: str, ctx: TenantContext) -> Mapping[str, Any]:
        """Declare the children; return the outputs."""
        raise NotImplementedError

    def child_options(self, *extra: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options of a child: parented here, waiting for the component's APIs (and `extra`)."""
        return pulumi.ResourceOptions(parent=self, depends_on=[*self.depends_on, *extra])
