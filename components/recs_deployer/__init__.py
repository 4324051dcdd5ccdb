"""RecsDeployer: the Deploy stage; a registered champion served locally or on Cloud Run."""

from components.recs_deployer.component import RecsDeployer

__all__ = ["RecsDeployer"]
