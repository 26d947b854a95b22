"""Parse `df -P -k [-T]` output and keep the filesystems worth watching."""

from __future__ import annotations

import re

from incidents.probe.report import Filesystem

# Anchored at both ends, so the lazy source and the greedy target may
# contain spaces: the numbers and the percent column pin the middle.
_ROW_TAIL = (
    r"(?P<size>\d+|-)\s+(?P<used>\d+|-)\s+(?P<avail>\d+|-)"
    r"\s+(?P<pct>\d+%|-)\s+(?P<target>.+)$"
)
_ROW = re.compile(r"^(?P<source>.+?)\s+" + _ROW_TAIL)
_ROW_WITH_TYPE = re.compile(r"^(?P<source>.+?)\s+(?P<fstype>\S+)\s+" + _ROW_TAIL)

# "Filesystem Type 1024-blocks Used Available Capacity Mounted on" in the C
# locale. Without the Type column the header has 7 words.
_HEADER_WORDS_WITH_TYPE = 8

PSEUDO_FILESYSTEM_TYPES = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fuse.snapfuse",
        "fusectl",
        "hugetlbfs",
        "iso9660",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tracefs",
    }
)
_SYSTEM_TMPFS_ROOTS = ("/run", "/dev", "/sys")

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def decode_mount_path(text: str) -> str:
    r"""Decode the octal escapes of /proc/mounts, e.g. `\040` for a space."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match[1], 8)), text)


def parse_df(text: str, errors: list[str] | None = None) -> list[Filesystem]:
    """Parse `df -P -k` output, with or without the `-T` type column.

    Rows without a size or percent (pseudo filesystems) are skipped. Lines
    that do not parse, and df's own error lines, are appended to `errors`
    when it is given.
    """
    problems: list[str] = []
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("df:"):
            problems.append(line.strip())

    # The header is skipped by position because its words are translated
    # in other locales.
    table = [line for line in lines if not line.startswith("df:")]
    rows = _join_wrapped_rows(table[1:])
    with_type = _has_type_column(table[0], rows) if table else False

    filesystems = []
    for row in rows:
        filesystem = _parse_row(row, with_type, problems)
        if filesystem is not None:
            filesystems.append(filesystem)

    if errors is not None:
        errors.extend(problems)
    return filesystems


def _join_wrapped_rows(lines: list[str]) -> list[str]:
    # df without -P prints a long source on a line of its own and the
    # numbers, indented, on the next line (old coreutils, busybox).
    rows: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        has_next = index + 1 < len(lines)
        if has_next and _ROW.match(line) is None and _is_continuation(lines, index):
            rows.append(line.rstrip() + " " + lines[index + 1].strip())
            index += 2
            continue
        rows.append(line)
        index += 1
    return rows


def _is_continuation(lines: list[str], index: int) -> bool:
    single_field = len(lines[index].split()) == 1
    return single_field or lines[index + 1][:1].isspace()


def _has_type_column(header: str, rows: list[str]) -> bool:
    if len(header.split()) < _HEADER_WORDS_WITH_TYPE:
        return False
    # A translated header may have more words ("Sist. Arq." in Portuguese),
    # so a row that only fits without a type column overrules the count.
    for row in rows:
        if _ROW.match(row) and _ROW_WITH_TYPE.match(row) is None:
            return False
    return True


def _parse_row(row: str, with_type: bool, problems: list[str]) -> Filesystem | None:
    match = (_ROW_WITH_TYPE if with_type else _ROW).match(row)
    if match is None:
        problems.append(f"unparsable df line {row.strip()!r}")
        return None

    size, used, avail, pct = match["size"], match["used"], match["avail"], match["pct"]
    if "-" in (size, used, avail, pct) or int(size) == 0:
        return None

    return Filesystem(
        source=match["source"],
        fstype=match["fstype"] if with_type else "",
        size_kb=int(size),
        used_kb=int(used),
        avail_kb=int(avail),
        used_pct=_used_pct(int(used), int(avail), pct),
        target=match["target"],
    )


def _used_pct(used: int, avail: int, printed_pct: str) -> float:
    # Like df: used / (used + available), rounded up, which leaves out the
    # blocks reserved for root. The result then equals df's Use% column.
    usable = used + avail
    if usable == 0:
        return float(printed_pct.rstrip("%"))
    return float(-(-used * 100 // usable))


def is_real_filesystem(filesystem: Filesystem) -> bool:
    """Return whether a filesystem stores data that can fill up.

    Pseudo filesystems, read-only images that are always 100 % full, and
    tmpfs mounts of the system under /run, /dev and /sys are not real. An
    overlay is real only at `/`, where it is a container's root.
    """
    # Without df -T, pseudo filesystems are recognised by their source,
    # which by convention is the type name (tmpfs, proc, overlay).
    fstype = filesystem.fstype or filesystem.source
    target = filesystem.target
    if fstype == "overlay":
        return target == "/"
    if fstype in PSEUDO_FILESYSTEM_TYPES:
        return False
    if fstype == "tmpfs" and _is_under(target, _SYSTEM_TMPFS_ROOTS):
        return False
    if filesystem.source.startswith("/dev/loop") and _is_under(target, ("/snap",)):
        return False
    return True


def _is_under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def select_real_filesystems(filesystems: list[Filesystem]) -> list[Filesystem]:
    return [filesystem for filesystem in filesystems if is_real_filesystem(filesystem)]
