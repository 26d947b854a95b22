"""Parse the output of probe.sh into a ProbeReport.

The same parser reads a local run and a run over SSH. It does no I/O and
imports nothing from Django. Output of a newer probe format is still read
section by section, with an error noting the version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from incidents.probe.filesystems import (
    decode_mount_path,
    is_real_filesystem,
    parse_df,
    select_real_filesystems,
)
from incidents.probe.report import (
    CpuTimes,
    CpuUsage,
    FailedUnit,
    Filesystem,
    Pressure,
    PressureLine,
    ProbeReport,
    ProcessSample,
    ProcessStat,
    ServiceState,
    ServiceStatus,
)
from incidents.probe.sections import (
    compute_cpu_usage,
    compute_mem_available_kb,
    compute_process_samples,
    parse_cpu_sample,
    parse_int,
    parse_meminfo,
    parse_pressure,
    parse_process_stat_line,
    parse_process_stats,
    parse_uptime,
)
from incidents.probe.services import (
    classify_service,
    parse_failed_units,
    parse_systemctl_show,
    service_state_from_processes,
    service_state_from_systemd,
)

__all__ = [
    "MARKER",
    "PROBE_FORMAT_VERSION",
    "CpuTimes",
    "CpuUsage",
    "FailedUnit",
    "Filesystem",
    "Pressure",
    "PressureLine",
    "ProbeReport",
    "ProcessSample",
    "ProcessStat",
    "ServiceState",
    "ServiceStatus",
    "classify_service",
    "compute_cpu_usage",
    "compute_mem_available_kb",
    "compute_process_samples",
    "decode_mount_path",
    "is_real_filesystem",
    "parse_cpu_sample",
    "parse_df",
    "parse_failed_units",
    "parse_meminfo",
    "parse_pressure",
    "parse_probe",
    "parse_process_stat_line",
    "parse_process_stats",
    "parse_systemctl_show",
    "select_real_filesystems",
    "split_sections",
]

logger = logging.getLogger(__name__)

MARKER = "@@opsguard"
PROBE_FORMAT_VERSION = 1

# Linux reports times to user space in USER_HZ ticks, which is 100 on every
# mainstream architecture, and pages of 4 KiB on x86 and most arm64 builds.
DEFAULT_CLK_TCK = 100
DEFAULT_PAGE_SIZE = 4096

_T = TypeVar("_T")


def split_sections(text: str) -> tuple[dict[str, str], list[str]]:
    """Split probe output at `@@opsguard NAME` lines.

    Return the sections by name and the problems found: text before the
    first marker (an SSH banner, for example) and repeated section names.
    """
    sections: dict[str, str] = {}
    problems: list[str] = []
    name: str | None = None
    body: list[str] = []

    # Only "\n" ends a line: str.splitlines() would also split at the
    # control characters that a process name may contain.
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if line.startswith(MARKER + " "):
            _store_section(sections, problems, name, body)
            name = line[len(MARKER) + 1 :].strip()
            body = []
        else:
            body.append(line)
    _store_section(sections, problems, name, body)
    return sections, problems


def _store_section(
    sections: dict[str, str], problems: list[str], name: str | None, body: list[str]
) -> None:
    content = "\n".join(body).strip("\n")
    if name is None:
        if content.strip():
            problems.append(
                f"ignored output before the first section: {content!r:.200}"
            )
        return
    if name in sections:
        problems.append(f"{name}: repeated section; the last one is used")
    sections[name] = content


class _SectionReader:
    """Access to the sections that records every problem in `errors`."""

    def __init__(self, sections: dict[str, str], errors: list[str]) -> None:
        self.sections = sections
        self.errors = errors

    def text(self, name: str) -> str | None:
        if name not in self.sections:
            self.errors.append(f"{name}: section missing")
            return None
        return self.sections[name]

    def parse(self, name: str, parser: Callable[[str], _T]) -> _T | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return parser(text)
        except ValueError as exc:
            self.errors.append(f"{name}: {exc}")
            return None

    def parse_lines(
        self, name: str, parser: Callable[[str, list[str]], list[_T]]
    ) -> list[_T]:
        """Run a parser that skips bad lines and reports them in a list."""
        text = self.text(name)
        if text is None:
            return []
        problems: list[str] = []
        result = parser(text, problems)
        self.errors.extend(f"{name}: {problem}" for problem in problems)
        return result


def parse_probe(
    text: str,
    services: list[str] | None = None,
    previous_n_restarts: Mapping[str, int | None] | None = None,
) -> ProbeReport:
    """Parse probe.sh output into a ProbeReport.

    services lists the critical services to report. None takes the names the
    probe was run with. previous_n_restarts maps a service name to its
    NRestarts value of the previous probe, to detect restarts in between.

    A section that does not parse is recorded in report.errors and the rest is
    still read. ValueError is raised only when the text has no section marker.
    """
    sections, errors = split_sections(text)
    if not sections:
        raise ValueError(
            f"probe output contains no '{MARKER} NAME' section markers, so it is "
            f"not probe.sh output; received {len(text)} characters: {text!r:.300}"
        )
    reader = _SectionReader(sections, errors)

    _check_version(reader)
    cpu_count = reader.parse("nproc", lambda t: parse_int(t, "CPU count")) or 0
    usage = _read_cpu_usage(reader)
    processes, latest_stats = _read_processes(reader, cpu_count)
    mem_total_kb, mem_available_kb = _read_memory(reader)
    io_pressure, io_pressure_error = _read_io_pressure(reader)
    systemd_available = _read_systemd_available(reader)

    report = ProbeReport(
        hostname=reader.parse("hostname", _parse_single_line) or "",
        kernel=reader.parse("uname", _parse_single_line) or "",
        cpu_count=cpu_count,
        cpu_busy_pct=usage.busy_pct if usage else None,
        cpu_iowait_pct=usage.iowait_pct if usage else None,
        mem_total_kb=mem_total_kb,
        mem_available_kb=mem_available_kb,
        processes=processes,
        filesystems=select_real_filesystems(reader.parse_lines("df", parse_df)),
        io_pressure=io_pressure,
        io_pressure_error=io_pressure_error,
        systemd_available=systemd_available,
        errors=errors,
    )

    names = _service_names(reader, services)
    if systemd_available:
        report.failed_units = reader.parse_lines("failed_units", parse_failed_units)
        report.services = _read_systemd_services(
            reader, names, previous_n_restarts or {}
        )
    else:
        report.services = _check_services_by_process(names, latest_stats)

    if errors:
        logger.debug(
            "probe of %s had %d section errors: %s",
            report.hostname,
            len(errors),
            errors,
        )
    return report


def _parse_single_line(text: str) -> str:
    value = text.strip()
    if not value or "\n" in value:
        raise ValueError(f"expected one line, got {text!r:.200}")
    return value


def _check_version(reader: _SectionReader) -> None:
    version = reader.parse("version", lambda t: parse_int(t, "probe format version"))
    if version is not None and version != PROBE_FORMAT_VERSION:
        reader.errors.append(
            f"version: probe format {version} is not the supported format "
            f"{PROBE_FORMAT_VERSION}; deploy the matching probe.sh and parser"
        )


def _read_cpu_usage(reader: _SectionReader) -> CpuUsage | None:
    first = reader.parse("stat1", parse_cpu_sample)
    second = reader.parse("stat2", parse_cpu_sample)
    if first is None or second is None:
        return None
    try:
        return compute_cpu_usage(first, second)
    except ValueError as exc:
        reader.errors.append(f"stat2: {exc}")
        return None


def _read_processes(
    reader: _SectionReader, cpu_count: int
) -> tuple[list[ProcessSample], list[ProcessStat]]:
    """Return the processes seen in both samples and the raw second sample."""
    first = reader.parse_lines("procs1", parse_process_stats)
    second = reader.parse_lines("procs2", parse_process_stats)
    if not first or not second:
        reader.errors.append(
            "procs: a sample has no processes; CPU per process unknown"
        )
        return [], second

    elapsed_ticks = _elapsed_ticks(reader, cpu_count)
    if elapsed_ticks is None:
        return [], second
    page_size = _read_setting(reader, "pagesize", "page size", DEFAULT_PAGE_SIZE)
    try:
        samples = compute_process_samples(first, second, elapsed_ticks, page_size)
    except ValueError as exc:
        reader.errors.append(f"procs2: {exc}")
        return [], second
    return samples, second


def _elapsed_ticks(reader: _SectionReader, cpu_count: int) -> float | None:
    clk_tck = _read_setting(
        reader, "clk_tck", "clock ticks per second", DEFAULT_CLK_TCK
    )
    first = reader.parse("uptime1", parse_uptime)
    second = reader.parse("uptime2", parse_uptime)
    if first is not None and second is not None:
        return (second - first) * clk_tck

    # NOTE: /proc/stat counts every online CPU, which may be more than the
    # CPUs nproc reports inside a container, so this fallback can understate
    # the elapsed time.
    stat1 = reader.sections.get("stat1", "")
    stat2 = reader.sections.get("stat2", "")
    try:
        delta = parse_cpu_sample(stat2).total - parse_cpu_sample(stat1).total
    except ValueError:
        delta = 0
    if delta <= 0 or cpu_count <= 0:
        reader.errors.append("uptime: elapsed time unknown; CPU per process unknown")
        return None
    return delta / cpu_count


def _read_setting(
    reader: _SectionReader, name: str, description: str, default: int
) -> int:
    value = reader.parse(name, lambda t: parse_int(t, description))
    if value is None or value <= 0:
        reader.errors.append(f"{name}: using the default {description} {default}")
        return default
    return value


def _read_memory(reader: _SectionReader) -> tuple[int | None, int | None]:
    meminfo = reader.parse("meminfo", parse_meminfo)
    if meminfo is None:
        return None, None
    available = compute_mem_available_kb(meminfo)
    if available is None:
        reader.errors.append("meminfo: no MemAvailable, MemFree, Buffers or Cached")
    return meminfo["MemTotal"], available


def _read_io_pressure(reader: _SectionReader) -> tuple[Pressure | None, str]:
    """Return the IO pressure, or None and the reason it is unsupported."""
    text = reader.text("psi_io")
    if text is None:
        return None, "psi_io section missing from the probe output"
    try:
        pressure = parse_pressure(text)
    except ValueError as exc:
        reader.errors.append(f"psi_io: {exc}")
        return None, str(exc)
    if pressure is None:
        return None, text.strip() or "empty /proc/pressure/io output"
    return pressure, ""


def _read_systemd_available(reader: _SectionReader) -> bool:
    text = reader.text("systemd")
    if text is None:
        return False
    state = text.strip()
    if state not in ("available", "unavailable"):
        reader.errors.append(
            f"systemd: expected 'available' or 'unavailable', got {state!r:.100}"
        )
    return state == "available"


def _service_names(reader: _SectionReader, services: list[str] | None) -> list[str]:
    if services is None:
        listed = reader.sections.get("services", "")
        services = [line.strip() for line in listed.split("\n")]
    # dict.fromkeys removes repeats and keeps the order.
    return list(dict.fromkeys(name for name in services if name))


def _read_systemd_services(
    reader: _SectionReader,
    names: list[str],
    previous_n_restarts: Mapping[str, int | None],
) -> list[ServiceState]:
    states = []
    for name in names:
        properties = reader.parse(f"service {name}", parse_systemctl_show)
        if properties is None:
            states.append(_unknown_service(name, "systemd"))
            continue
        previous = previous_n_restarts.get(name)
        states.append(service_state_from_systemd(name, properties, previous))
    return states


def _check_services_by_process(
    names: list[str], stats: list[ProcessStat]
) -> list[ServiceState]:
    # Without a process list, DOWN would be a guess.
    if not stats:
        return [_unknown_service(name, "process") for name in names]
    comms = {stat.comm for stat in stats}
    return [service_state_from_processes(name, comms) for name in names]


def _unknown_service(name: str, source: str) -> ServiceState:
    return ServiceState(
        name=name,
        status=ServiceStatus.UNKNOWN,
        load_state="",
        active_state="",
        sub_state="",
        n_restarts=None,
        source=source,
    )
