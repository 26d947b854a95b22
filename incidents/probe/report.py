"""Dataclasses for one parsed host probe and its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum, auto
from typing import Any


class ServiceStatus(StrEnum):
    UP = auto()
    DOWN = auto()
    FAILED = auto()
    NOT_FOUND = auto()
    TRANSITIONAL = auto()
    CRASH_LOOP = auto()
    UNKNOWN = auto()


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative ticks of the aggregate `cpu` line of /proc/stat."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def idle_all(self) -> int:
        return self.idle + self.iowait

    @property
    def total(self) -> int:
        # guest and guest_nice are already counted in user and nice.
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )


@dataclass(frozen=True)
class CpuUsage:
    """Host CPU use between two /proc/stat samples, in percent of all cores."""

    busy_pct: float
    iowait_pct: float


@dataclass(frozen=True)
class ProcessStat:
    """One /proc/PID/stat line. Times are in clock ticks and rss in pages."""

    pid: int
    comm: str
    state: str
    ppid: int
    utime: int
    stime: int
    start_ticks: int
    rss_pages: int


@dataclass
class ProcessSample:
    """A process seen in both samples, with cpu_pct in percent of one core."""

    pid: int
    ppid: int
    comm: str
    cpu_pct: float
    rss_kb: int
    start_ticks: int
    state: str = ""

    @property
    def is_kernel_thread(self) -> bool:
        # kthreadd is PID 2 and is the parent of every other kernel thread.
        return self.pid == 2 or self.ppid == 2


@dataclass
class Filesystem:
    source: str
    fstype: str
    size_kb: int
    used_kb: int
    avail_kb: int
    used_pct: float
    target: str


@dataclass
class PressureLine:
    """One PSI line: averages in percent, total stall time in microseconds."""

    avg10: float
    avg60: float
    avg300: float
    total: int


@dataclass
class Pressure:
    some: PressureLine | None
    full: PressureLine | None


@dataclass
class ServiceState:
    """A critical service's state. source is "systemd" or "process" (name check)."""

    name: str
    status: ServiceStatus
    load_state: str
    active_state: str
    sub_state: str
    n_restarts: int | None
    source: str


@dataclass
class FailedUnit:
    unit: str
    load: str
    active: str
    sub: str
    description: str


@dataclass
class ProbeReport:
    """The parsed health of one host.

    cpu_count is 0 when the host did not report it. io_pressure is None when
    the kernel lacks PSI, which is different from a pressure of zero.
    """

    hostname: str
    kernel: str
    cpu_count: int
    cpu_busy_pct: float | None
    cpu_iowait_pct: float | None
    mem_total_kb: int | None
    mem_available_kb: int | None
    processes: list[ProcessSample] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)
    io_pressure: Pressure | None = None
    io_pressure_error: str = ""
    systemd_available: bool = False
    services: list[ServiceState] = field(default_factory=list)
    failed_units: list[FailedUnit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def mem_used_pct(self) -> float | None:
        if not self.mem_total_kb or self.mem_available_kb is None:
            return None
        used_kb = self.mem_total_kb - self.mem_available_kb
        return used_kb / self.mem_total_kb * 100

    def top_cpu(self, n: int = 5) -> list[ProcessSample]:
        """Return the n busiest processes, leaving out kernel threads."""
        candidates = [p for p in self.processes if not p.is_kernel_thread]
        return sorted(candidates, key=lambda p: p.cpu_pct, reverse=True)[:n]

    def top_memory(self, n: int = 5) -> list[ProcessSample]:
        """Return the n processes with the largest resident set, leaving out
        kernel threads."""
        candidates = [p for p in self.processes if not p.is_kernel_thread]
        return sorted(candidates, key=lambda p: p.rss_kb, reverse=True)[:n]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict, with mem_used_pct, top_cpu and
        top_memory added for readers that only have the stored dict."""
        data = asdict(self)
        for service in data["services"]:
            service["status"] = str(service["status"])
        data["mem_used_pct"] = self.mem_used_pct
        data["top_cpu"] = [asdict(p) for p in self.top_cpu()]
        data["top_memory"] = [asdict(p) for p in self.top_memory()]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeReport:
        """Build a report from to_dict() output, ignoring the derived keys."""
        services = [
            ServiceState(**{**s, "status": ServiceStatus(s["status"])})
            for s in data.get("services", [])
        ]
        return cls(
            hostname=data["hostname"],
            kernel=data["kernel"],
            cpu_count=data["cpu_count"],
            cpu_busy_pct=data.get("cpu_busy_pct"),
            cpu_iowait_pct=data.get("cpu_iowait_pct"),
            mem_total_kb=data.get("mem_total_kb"),
            mem_available_kb=data.get("mem_available_kb"),
            processes=[ProcessSample(**p) for p in data.get("processes", [])],
            filesystems=[Filesystem(**f) for f in data.get("filesystems", [])],
            io_pressure=_pressure_from_dict(data.get("io_pressure")),
            io_pressure_error=data.get("io_pressure_error", ""),
            systemd_available=data.get("systemd_available", False),
            services=services,
            failed_units=[FailedUnit(**u) for u in data.get("failed_units", [])],
            errors=list(data.get("errors", [])),
        )


def _pressure_from_dict(data: dict[str, Any] | None) -> Pressure | None:
    if data is None:
        return None
    some = data.get("some")
    full = data.get("full")
    return Pressure(
        some=PressureLine(**some) if some is not None else None,
        full=PressureLine(**full) if full is not None else None,
    )
