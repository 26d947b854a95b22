"""The interface every way of running the probe on a host implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from incidents.probe.parser import parse_probe
from incidents.probe.report import ProbeReport


class CollectorError(Exception):
    """The probe could not be run or read. The message names the host."""


class ProbeTarget(Protocol):
    """A host to probe. The members are read-only, so a frozen dataclass matches."""

    @property
    def name(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def critical_services(self) -> list[str]: ...


class Collector(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def run_probe(self, host: ProbeTarget) -> str:
        """Run probe.sh for the host and return its raw output.

        Raises CollectorError when the probe cannot run, or fails with no output.
        """

    def probe(
        self,
        host: ProbeTarget,
        previous_n_restarts: Mapping[str, int | None] | None = None,
    ) -> ProbeReport:
        """Run the probe and parse its output.

        previous_n_restarts maps a service to its NRestarts of the previous
        probe, so a service that crashed and came back in between is found.
        """
        output = self.run_probe(host)
        try:
            return parse_probe(output, host.critical_services, previous_n_restarts)
        except ValueError as exc:
            raise CollectorError(f"host {host.name}: {exc}") from exc


_COLLECTORS: dict[str, type[Collector]] = {}

_CollectorType = TypeVar("_CollectorType", bound=type[Collector])


def register_collector(collector_class: _CollectorType) -> _CollectorType:
    """Register a collector class under its `kind`. Works as a decorator."""
    _COLLECTORS[collector_class.kind] = collector_class
    return collector_class


def get_collector(kind: str, **options: Any) -> Collector:
    """Return a collector of the given kind, built with `options`."""
    try:
        collector_class = _COLLECTORS[kind]
    except KeyError:
        known = ", ".join(sorted(_COLLECTORS)) or "none"
        raise ValueError(
            f"unknown collector kind {kind!r}; known kinds: {known}"
        ) from None
    return collector_class(**options)
