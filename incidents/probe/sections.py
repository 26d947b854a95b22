"""Parsers for the CPU, process, memory and pressure sections of a probe."""

from __future__ import annotations

import re
from collections.abc import Iterable

from incidents.probe.report import (
    CpuTimes,
    CpuUsage,
    Pressure,
    PressureLine,
    ProcessSample,
    ProcessStat,
)

# Fields of /proc/PID/stat counted from 1, as in proc(5).
_STAT_STATE = 3
_STAT_PPID = 4
_STAT_UTIME = 14
_STAT_STIME = 15
_STAT_STARTTIME = 22
_STAT_RSS = 24

_PRESSURE_LINE = re.compile(
    r"^(?P<kind>some|full)\s+avg10=(?P<avg10>\S+)\s+avg60=(?P<avg60>\S+)"
    r"\s+avg300=(?P<avg300>\S+)\s+total=(?P<total>\S+)\s*$"
)


def _shorten(text: str, limit: int = 120) -> str:
    text = text.strip()
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + "..."


def parse_int(text: str, description: str) -> int:
    """Parse a section that contains one integer, such as `getconf PAGESIZE`."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"expected an integer {description}, got {_shorten(text)}"
        ) from None


def parse_uptime(text: str) -> float:
    """Parse /proc/uptime and return the seconds since boot."""
    fields = text.split()
    try:
        return float(fields[0])
    except (IndexError, ValueError):
        raise ValueError(
            f"expected /proc/uptime as 'SECONDS IDLE', got {_shorten(text)}"
        ) from None


def parse_cpu_sample(text: str) -> CpuTimes:
    """Parse the aggregate `cpu` line of /proc/stat."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return _cpu_times(fields[1:], line)
    raise ValueError(f"no 'cpu ' line in /proc/stat output {_shorten(text)}")


def _cpu_times(fields: list[str], line: str) -> CpuTimes:
    # Kernels before 2.6.11 print fewer columns. The missing ones count as 0.
    try:
        ticks = [int(field) for field in fields[:8]]
    except ValueError:
        raise ValueError(f"non-numeric /proc/stat cpu line {_shorten(line)}") from None
    if len(ticks) < 4:
        raise ValueError(f"/proc/stat cpu line has too few columns: {_shorten(line)}")
    ticks += [0] * (8 - len(ticks))
    return CpuTimes(*ticks)


def compute_cpu_usage(first: CpuTimes, second: CpuTimes) -> CpuUsage:
    """Compute busy and iowait percent between two cumulative samples.

    A single sample only gives the average since boot, so two are needed.
    """
    # The kernel may report a lower iowait than before (proc(5)). A negative
    # delta is treated as 0 so it cannot shrink the total.
    deltas = [
        max(0, getattr(second, name) - getattr(first, name))
        for name in CpuTimes.__dataclass_fields__
    ]
    delta = CpuTimes(*deltas)
    if delta.total <= 0:
        raise ValueError(
            "the two /proc/stat samples are equal; probe again with a longer "
            "sample time"
        )
    busy_pct = (delta.total - delta.idle_all) / delta.total * 100
    iowait_pct = delta.iowait / delta.total * 100
    return CpuUsage(busy_pct=busy_pct, iowait_pct=iowait_pct)


def parse_process_stat_line(line: str) -> ProcessStat:
    """Parse one /proc/PID/stat line.

    The command name may contain spaces and parentheses, so it is the text
    between the first '(' and the last ')'.
    """
    open_paren = line.find("(")
    close_paren = line.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        raise ValueError(f"no '(comm)' in /proc/PID/stat line {_shorten(line)}")

    # rest[0] is field 3 (state), so field N is rest[N - 3].
    rest = line[close_paren + 1 :].split()
    if len(rest) < _STAT_RSS - 2:
        raise ValueError(f"/proc/PID/stat line is truncated: {_shorten(line)}")

    try:
        return ProcessStat(
            pid=int(line[:open_paren]),
            comm=line[open_paren + 1 : close_paren],
            state=rest[_STAT_STATE - 3],
            ppid=int(rest[_STAT_PPID - 3]),
            utime=int(rest[_STAT_UTIME - 3]),
            stime=int(rest[_STAT_STIME - 3]),
            start_ticks=int(rest[_STAT_STARTTIME - 3]),
            rss_pages=int(rest[_STAT_RSS - 3]),
        )
    except ValueError:
        raise ValueError(
            f"non-numeric field in /proc/PID/stat line {_shorten(line)}"
        ) from None


def parse_process_stats(
    text: str, errors: list[str] | None = None
) -> list[ProcessStat]:
    """Parse one /proc/PID/stat line per process.

    Lines that do not parse are skipped. When `errors` is given, one message
    with the number of skipped lines is appended to it.
    """
    stats = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            stats.append(parse_process_stat_line(line))
        except ValueError:
            skipped += 1

    # A command name that contains a newline splits its line in two.
    if skipped and errors is not None:
        errors.append(f"skipped {skipped} unparsable /proc/PID/stat lines")
    return stats


def compute_process_samples(
    first: Iterable[ProcessStat],
    second: Iterable[ProcessStat],
    elapsed_ticks: float,
    page_size: int,
) -> list[ProcessSample]:
    """Compute each process's CPU percent of one core between two samples.

    A process is matched by PID and start time, so a reused PID is not
    mistaken for the old process. Processes seen only once are left out.
    """
    if elapsed_ticks <= 0:
        raise ValueError(
            f"elapsed time between samples must be positive, got {elapsed_ticks} "
            "ticks; probe again with a longer sample time"
        )
    earlier = {(stat.pid, stat.start_ticks): stat for stat in first}
    samples = []
    for stat in second:
        before = earlier.get((stat.pid, stat.start_ticks))
        if before is None:
            continue
        used_ticks = (stat.utime + stat.stime) - (before.utime + before.stime)
        samples.append(
            ProcessSample(
                pid=stat.pid,
                ppid=stat.ppid,
                comm=stat.comm,
                cpu_pct=max(0, used_ticks) / elapsed_ticks * 100,
                rss_kb=stat.rss_pages * page_size // 1024,
                start_ticks=stat.start_ticks,
                state=stat.state,
            )
        )
    return samples


def parse_meminfo(text: str) -> dict[str, int]:
    """Parse /proc/meminfo into kB values (HugePages_* counts stay counts)."""
    values = {}
    for line in text.splitlines():
        key, separator, rest = line.partition(":")
        fields = rest.split()
        if not separator or not fields or not _is_ascii_digits(fields[0]):
            continue
        values[key.strip()] = int(fields[0])
    if "MemTotal" not in values:
        raise ValueError(f"no MemTotal in /proc/meminfo output {_shorten(text)}")
    return values


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def compute_mem_available_kb(meminfo: dict[str, int]) -> int | None:
    """Return the memory available for new programs, in kB.

    Kernels before 3.14 and some containers lack MemAvailable. The estimate
    then counts page cache and reclaimable slab as available, because the
    kernel frees them on demand.
    """
    if "MemAvailable" in meminfo:
        return meminfo["MemAvailable"]
    parts = ("MemFree", "Buffers", "Cached")
    if any(part not in meminfo for part in parts):
        return None
    available = sum(meminfo[part] for part in parts)
    return available + meminfo.get("SReclaimable", 0)


def parse_pressure(text: str) -> Pressure | None:
    """Parse a /proc/pressure/* file.

    Return None when the text contains no pressure line, which is what a
    kernel without PSI prints (the read error). A malformed pressure line
    raises ValueError.
    """
    lines: dict[str, PressureLine] = {}
    for line in text.splitlines():
        if not line.startswith(("some ", "full ")):
            continue
        match = _PRESSURE_LINE.match(line)
        if match is None:
            raise ValueError(f"malformed pressure line {_shorten(line)}")
        lines[match["kind"]] = _pressure_line(match, line)
    if not lines:
        return None
    return Pressure(some=lines.get("some"), full=lines.get("full"))


def _pressure_line(match: re.Match[str], line: str) -> PressureLine:
    try:
        return PressureLine(
            avg10=float(match["avg10"]),
            avg60=float(match["avg60"]),
            avg300=float(match["avg300"]),
            total=int(match["total"]),
        )
    except ValueError:
        raise ValueError(f"non-numeric pressure line {_shorten(line)}") from None
