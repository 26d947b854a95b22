"""Ways to run the probe on a host. get_collector() picks one by kind."""

from incidents.collectors.base import (
    Collector,
    CollectorError,
    ProbeTarget,
    get_collector,
    register_collector,
)

# Imported for its registration of the "local" kind.
from incidents.collectors.local import LocalCollector

__all__ = [
    "Collector",
    "CollectorError",
    "LocalCollector",
    "ProbeTarget",
    "get_collector",
    "register_collector",
]
