"""Parse systemd output and decide whether critical services run."""

from __future__ import annotations

import re
from collections.abc import Collection

from incidents.probe.report import FailedUnit, ServiceState, ServiceStatus

# `systemctl list-units` marks failed units with "●" (or "*" without UTF-8)
# on some versions even with --plain.
_FAILED_UNIT = re.compile(
    r"^[\s●*]*(?P<unit>\S+\.(?:service|socket|target|mount|automount|swap|"
    r"timer|path|slice|scope|device))\s+(?P<load>\S+)\s+(?P<active>\S+)"
    r"\s+(?P<sub>\S+)(?:\s+(?P<description>.*?))?\s*$"
)
_UNITS_LISTED = re.compile(r"^\s*\d+ loaded units listed")

_TRANSITIONAL_STATES = frozenset(
    {"activating", "deactivating", "maintenance", "refreshing"}
)

# The kernel keeps 15 bytes of a process name (comm). Unit names are ASCII,
# so that is 15 characters.
COMM_MAX_LENGTH = 15


def parse_failed_units(text: str, errors: list[str] | None = None) -> list[FailedUnit]:
    """Parse `systemctl list-units --failed --plain --no-legend` output.

    Lines that are not unit rows are appended to `errors` when it is given.
    """
    units = []
    for line in text.splitlines():
        if not line.strip() or _UNITS_LISTED.match(line):
            continue
        match = _FAILED_UNIT.match(line)
        if match is None:
            if errors is not None:
                errors.append(f"unparsable failed unit line {line.strip()!r}")
            continue
        units.append(
            FailedUnit(
                unit=match["unit"],
                load=match["load"],
                active=match["active"],
                sub=match["sub"],
                description=match["description"] or "",
            )
        )
    return units


def parse_systemctl_show(text: str) -> dict[str, str]:
    """Parse `systemctl show -p ...` KEY=VALUE lines, in any order."""
    properties = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator and key and key.isidentifier():
            properties[key] = value.strip()
    if not properties:
        raise ValueError(f"no KEY=VALUE lines in systemctl show output {text!r:.200}")
    return properties


def parse_n_restarts(properties: dict[str, str]) -> int | None:
    """Return NRestarts, or None on systemd older than 235, which lacks it."""
    value = properties.get("NRestarts", "")
    return int(value) if value.isascii() and value.isdigit() else None


def classify_service(
    properties: dict[str, str], previous_n_restarts: int | None = None
) -> ServiceStatus:
    """Classify a unit from its `systemctl show` properties.

    previous_n_restarts is the NRestarts value of the previous probe. Only
    automatic restarts (Restart=) raise NRestarts, so growth while the unit
    is active means it crashed and came back since that probe.
    """
    load_state = properties.get("LoadState", "")
    active_state = properties.get("ActiveState", "")
    sub_state = properties.get("SubState", "")

    # systemctl show exits 0 for a unit that does not exist.
    if load_state == "not-found":
        return ServiceStatus.NOT_FOUND
    # "auto-restart" and, on newer systemd, "auto-restart-queued".
    if sub_state.startswith("auto-restart"):
        return ServiceStatus.CRASH_LOOP
    if active_state in ("active", "reloading"):
        if _restarted_since(properties, previous_n_restarts):
            return ServiceStatus.CRASH_LOOP
        return ServiceStatus.UP
    if active_state == "failed":
        return ServiceStatus.FAILED
    if active_state == "inactive":
        return ServiceStatus.DOWN
    if active_state in _TRANSITIONAL_STATES:
        return ServiceStatus.TRANSITIONAL
    return ServiceStatus.UNKNOWN


def _restarted_since(properties: dict[str, str], previous: int | None) -> bool:
    current = parse_n_restarts(properties)
    if current is None or previous is None:
        return False
    return current > previous


def service_state_from_systemd(
    name: str, properties: dict[str, str], previous_n_restarts: int | None = None
) -> ServiceState:
    return ServiceState(
        name=name,
        status=classify_service(properties, previous_n_restarts),
        load_state=properties.get("LoadState", ""),
        active_state=properties.get("ActiveState", ""),
        sub_state=properties.get("SubState", ""),
        n_restarts=parse_n_restarts(properties),
        source="systemd",
    )


def service_state_from_processes(name: str, comms: Collection[str]) -> ServiceState:
    """Check a service by process name, for hosts where systemd is not PID 1.

    The service is UP when a process's comm equals the name without a
    ".service" suffix, cut to the 15 characters the kernel keeps.
    """
    # NOTE: with /proc mounted hidepid=2, a probe run by another user does not
    # see the service's process and reports it DOWN.
    comm = name.removesuffix(".service")[:COMM_MAX_LENGTH]
    status = ServiceStatus.UP if comm in comms else ServiceStatus.DOWN
    return ServiceState(
        name=name,
        status=status,
        load_state="",
        active_state="",
        sub_state="",
        n_restarts=None,
        source="process",
    )
