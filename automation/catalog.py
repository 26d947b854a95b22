"""The template catalog: what may run, with which parameters, at what risk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import jsonschema
from django.conf import settings

from approvals.models import RiskLevel
from incidents.models import Host

from .models import RemediationTemplate


class CatalogError(Exception):
    """A proposal that the catalog does not allow. The message gives the reason."""


@dataclass(frozen=True)
class CheckedProposal:
    template: RemediationTemplate
    parameters: dict[str, Any]
    risk_level: RiskLevel


def check_proposal(
    host: Host, slug: str, parameters: dict[str, Any]
) -> CheckedProposal:
    """Return the template, parameters and risk for a proposal, or raise
    CatalogError when it does not pass the catalog."""
    if not Host.objects.filter(pk=host.pk, enabled=True).exists():
        raise CatalogError(f"host {host.name} is not an enabled host in the inventory")

    template = (
        RemediationTemplate.objects.select_related(
            "risk_level", "hypervisor_risk_level"
        )
        .filter(slug=slug, enabled=True)
        .first()
    )
    if template is None:
        raise CatalogError(
            f"template {slug!r} is not an enabled template in the catalog"
        )

    _check_schema(template, parameters)
    _check_paths(template, parameters)
    return CheckedProposal(template, parameters, risk_for(template, host))


def risk_for(template: RemediationTemplate, host: Host) -> RiskLevel:
    """Return the register's level for this template on this host."""
    if host.is_hypervisor and template.hypervisor_risk_level is not None:
        return template.hypervisor_risk_level
    return template.risk_level


def _check_schema(template: RemediationTemplate, parameters: dict[str, Any]) -> None:
    try:
        jsonschema.validate(parameters, template.parameter_schema)
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "parameters"
        raise CatalogError(
            f"parameters for {template.slug} are invalid at {where}: {error.message}"
        ) from error


def _check_paths(template: RemediationTemplate, parameters: dict[str, Any]) -> None:
    # Deleting files is only allowed in the configured clean-up paths, on
    # the filesystem that is full.
    # NOTE: this checks paths by name only; a path on a filesystem mounted
    # below `mount` passes. The rules engine never proposes one, and the
    # playbook deletes only files on the same device as `mount`.
    if template.slug != "disk_cleanup":
        return
    mount = PurePosixPath(parameters["mount"])
    for path in parameters["paths"]:
        if path not in settings.DISK_CLEANUP_PATHS:
            raise CatalogError(
                f"path {path} is not in DISK_CLEANUP_PATHS; add it there to allow "
                "clean-up in it"
            )
        if PurePosixPath(path) != mount and mount not in PurePosixPath(path).parents:
            raise CatalogError(f"path {path} is not under the full mount {mount}")
