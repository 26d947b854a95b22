"""Tests for the probe output parser, with inputs seen on real hosts."""

import json

import pytest

from incidents.probe.parser import (
    CpuTimes,
    Filesystem,
    ProbeReport,
    ProcessSample,
    ProcessStat,
    ServiceStatus,
    classify_service,
    compute_cpu_usage,
    compute_mem_available_kb,
    compute_process_samples,
    decode_mount_path,
    is_real_filesystem,
    parse_cpu_sample,
    parse_df,
    parse_failed_units,
    parse_meminfo,
    parse_pressure,
    parse_probe,
    parse_process_stat_line,
    parse_systemctl_show,
    select_real_filesystems,
    split_sections,
)


def stat_line(
    pid: int,
    comm: str,
    *,
    ppid: int = 1,
    utime: int = 0,
    stime: int = 0,
    start: int = 100,
    rss: int = 10,
    state: str = "S",
) -> str:
    """Build a /proc/PID/stat line with the 52 fields of Linux 3.5 and later."""
    fields = [state, ppid, pid, pid, 0, -1, 4194304, 0, 0, 0, 0, utime, stime]
    fields += [0, 0, 20, 0, 1, 0, start, 1000000, rss]
    fields += [0] * 28
    return f"{pid} ({comm}) " + " ".join(str(field) for field in fields)


PROCS1 = "\n".join(
    [
        stat_line(1, "init", ppid=0, utime=50, stime=50, start=1, rss=300),
        stat_line(2, "kthreadd", ppid=0, start=1, rss=0),
        stat_line(40, "kswapd0", ppid=2, utime=100, start=2, rss=0),
        stat_line(612, "cron", utime=10, stime=5, start=900, rss=700),
        stat_line(700, "java", utime=1000, stime=100, start=950, rss=250000),
        stat_line(801, "gone", utime=5, start=990, rss=100),
    ]
)
PROCS2 = "\n".join(
    [
        stat_line(1, "init", ppid=0, utime=50, stime=51, start=1, rss=300),
        stat_line(2, "kthreadd", ppid=0, start=1, rss=0),
        stat_line(40, "kswapd0", ppid=2, utime=190, start=2, rss=0),
        stat_line(612, "cron", utime=10, stime=5, start=900, rss=700),
        stat_line(700, "java", utime=1150, stime=130, start=950, rss=250000),
        stat_line(900, "new", utime=20, start=1005, rss=100),
    ]
)

BASE_SECTIONS: dict[str, str] = {
    "version": "1",
    "hostname": "web1",
    "uname": "6.1.0-18-amd64",
    "nproc": "2",
    "pagesize": "4096",
    "clk_tck": "100",
    "stat1": "cpu  1000 0 500 8000 500 0 0 0 0 0",
    "uptime1": "1000.00 1900.00",
    "procs1": PROCS1,
    "stat2": "cpu  1090 0 530 8060 520 0 0 0 0 0",
    "uptime2": "1001.00 1901.50",
    "procs2": PROCS2,
    "meminfo": "\n".join(
        [
            "MemTotal:        1000000 kB",
            "MemFree:          100000 kB",
            "MemAvailable:     600000 kB",
            "Buffers:           20000 kB",
            "Cached:           450000 kB",
            "SReclaimable:      30000 kB",
            "HugePages_Total:       0",
        ]
    ),
    "df": "\n".join(
        [
            "Filesystem     Type 1024-blocks    Used Available Capacity Mounted on",
            "/dev/sda1      ext4    20000000 9000000  10000000      48% /",
            "/dev/sda2      ext4      999320  146268    785340      16% /boot",
            "tmpfs          tmpfs     203000       0    203000       0% /run",
        ]
    ),
    "psi_io": "\n".join(
        [
            "some avg10=0.00 avg60=1.11 avg300=0.68 total=2828208",
            "full avg10=0.00 avg60=0.91 avg300=0.56 total=2334731",
        ]
    ),
    "services": "cron\nnginx",
    "systemd": "unavailable",
}


def probe_text(overrides: dict[str, str | None] | None = None) -> str:
    """Build probe.sh output; an override of None removes that section."""
    sections: dict[str, str | None] = {**BASE_SECTIONS, **(overrides or {})}
    parts = []
    for name, body in sections.items():
        if body is None:
            continue
        parts.append(f"@@opsguard {name}\n{body}\n")
    return "".join(parts)


def systemd_text(services: dict[str, str], failed_units: str = "") -> str:
    overrides: dict[str, str | None] = {
        "systemd": "available",
        "services": "\n".join(services),
        "failed_units": failed_units,
    }
    for name, show in services.items():
        overrides[f"service {name}"] = show
    return probe_text(overrides)


# df


def test_df_wrapped_source_joined():
    text = "\n".join(
        [
            "Filesystem           1K-blocks      Used Available Use% Mounted on",
            "/dev/mapper/vg_local-lv_root",
            "                      22346236   7893684  13299300  38% /",
            "/dev/sda1               101086     19995     75872  21% /boot",
        ]
    )

    root, boot = parse_df(text)

    assert root.source == "/dev/mapper/vg_local-lv_root"
    assert root.size_kb == 22346236
    assert root.used_kb == 7893684
    assert root.avail_kb == 13299300
    assert root.used_pct == 38
    assert root.target == "/"
    assert boot.source == "/dev/sda1"
    assert boot.used_pct == 21
    assert boot.target == "/boot"


def test_df_spaces_in_source_and_target():
    text = "\n".join(
        [
            "Filesystem                      1024-blocks        Used  Available "
            "Capacity Mounted on",
            "//example.com/Some Storage/Test 17179803648 15080666092 2099137556"
            "      88% /mnt/test",
            "/dev/loop2p1                          30720       30720          0"
            "     100% /tmp/My Volume",
        ]
    )

    share, volume = parse_df(text)

    assert share.source == "//example.com/Some Storage/Test"
    assert share.size_kb == 17179803648
    assert share.used_kb == 15080666092
    assert share.avail_kb == 2099137556
    assert share.used_pct == 88
    assert share.target == "/mnt/test"
    assert volume.target == "/tmp/My Volume"
    assert volume.used_pct == 100


def test_df_type_column_with_spaces():
    text = "\n".join(
        [
            "Filesystem Type 1024-blocks Used Available Capacity Mounted on",
            "//srv/Some Share cifs 1000 880 120 88% /mnt/Team Share",
        ]
    )

    (share,) = parse_df(text)

    assert share.source == "//srv/Some Share"
    assert share.fstype == "cifs"
    assert share.target == "/mnt/Team Share"


def test_df_pseudo_filesystems_dropped():
    text = "\n".join(
        [
            "Filesystem     Type     1024-blocks    Used Available Capacity Mounted on",
            "/dev/loop0     squashfs       91648   91648         0     100% "
            "/snap/core/6130",
            "/dev/xvda2     ext4          999320  146268    785340      16% /boot",
            "tmpfs          tmpfs         203000       0    203000       0% "
            "/run/user/1000",
            "overlay        overlay     30832548 9876543  19366069      34% "
            "/var/lib/docker/overlay2/x/merged",
        ]
    )

    filesystems = parse_df(text)
    kept = select_real_filesystems(filesystems)

    assert len(filesystems) == 4
    assert [fs.target for fs in kept] == ["/boot"]
    assert kept[0].fstype == "ext4"


@pytest.mark.parametrize(
    ("source", "fstype", "target", "expected"),
    [
        ("overlay", "overlay", "/", True),
        ("overlay", "overlay", "/var/lib/docker/overlay2/x/merged", False),
        ("tmpfs", "tmpfs", "/home/alice/.cache", True),
        ("tmpfs", "tmpfs", "/dev/shm", False),
        ("tmpfs", "tmpfs", "/sys/fs/cgroup", False),
        ("tmpfs", "tmpfs", "/running", True),
        ("/dev/loop3", "ext4", "/snap/lxd/1", False),
        ("/dev/loop3", "ext4", "/srv/image", True),
        ("proc", "proc", "/proc", False),
        ("tmpfs", "", "/run/lock", False),
        ("/dev/sdb1", "xfs", "/var/lib/postgresql", True),
    ],
)
def test_real_filesystem_rules(source, fstype, target, expected):
    filesystem = Filesystem(source, fstype, 100, 10, 90, 10.0, target)

    assert is_real_filesystem(filesystem) is expected


def test_df_zero_size_and_dash_skipped():
    text = "\n".join(
        [
            "Filesystem Type 1024-blocks Used Available Capacity Mounted on",
            "proc proc 0 0 0 - /proc",
            "lxcfs fuse.lxcfs 0 0 0 - /var/lib/lxcfs",
            "/dev/sda1 ext4 1000 100 900 10% /",
        ]
    )

    filesystems = parse_df(text)

    assert [fs.target for fs in filesystems] == ["/"]


def test_df_used_pct_rounds_up_like_df():
    text = "\n".join(
        [
            "Filesystem 1024-blocks Used Available Capacity Mounted on",
            "/dev/sda1 1000 901 99 91% /",
        ]
    )

    (root,) = parse_df(text)

    # 901 / (901 + 99) is 90.1 %, which df prints as 91 %.
    assert root.used_pct == 91


def test_df_used_pct_ignores_root_reserve():
    text = "\n".join(
        [
            "Filesystem 1024-blocks Used Available Capacity Mounted on",
            "/dev/sda1 1000 500 450 53% /",
        ]
    )

    (root,) = parse_df(text)

    assert root.used_pct == 53


def test_df_printed_pct_fallback():
    text = "\n".join(
        [
            "Filesystem 1024-blocks Used Available Capacity Mounted on",
            "/dev/sdc1 1000 0 0 100% /data",
        ]
    )

    (data,) = parse_df(text)

    assert data.used_pct == 100


def test_df_translated_header():
    text = "\n".join(
        [
            "Sist. Arq.   1K-blocos   Usado Disponível Uso% Montado em",
            "/dev/sda1   521792   81540   440252  16% /boot",
        ]
    )

    (boot,) = parse_df(text)

    assert boot.used_pct == 16
    assert boot.target == "/boot"
    assert boot.source == "/dev/sda1"


def test_df_error_lines_reported():
    text = "\n".join(
        [
            "Filesystem Type 1024-blocks Used Available Capacity Mounted on",
            "df: /mnt/nfs: Stale file handle",
            "/dev/sda1 ext4 1000 100 900 10% /",
            "garbage",
        ]
    )
    errors: list[str] = []

    filesystems = parse_df(text, errors)

    assert [fs.target for fs in filesystems] == ["/"]
    assert errors[0] == "df: /mnt/nfs: Stale file handle"
    assert "garbage" in errors[1]


@pytest.mark.parametrize(
    ("escaped", "expected"),
    [
        (r"/mnt/foo\040bar", "/mnt/foo bar"),
        (r"/mnt/a\011b", "/mnt/a\tb"),
        (r"/mnt/a\012b", "/mnt/a\nb"),
        (r"/mnt/a\134b", "/mnt/a\\b"),
        ("/mnt/plain", "/mnt/plain"),
    ],
)
def test_decode_mount_path(escaped, expected):
    assert decode_mount_path(escaped) == expected


# Memory


def test_meminfo_uses_mem_available():
    meminfo = parse_meminfo(BASE_SECTIONS["meminfo"])

    assert meminfo["MemTotal"] == 1000000
    assert compute_mem_available_kb(meminfo) == 600000


def test_meminfo_fallback_without_mem_available():
    meminfo = parse_meminfo(
        "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
        "Cached: 300 kB\nSReclaimable: 50 kB\n"
    )

    assert compute_mem_available_kb(meminfo) == 470


def test_meminfo_fallback_without_sreclaimable():
    meminfo = parse_meminfo(
        "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n"
    )

    assert compute_mem_available_kb(meminfo) == 420


def test_meminfo_missing_total_rejected():
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("cat: /proc/meminfo: No such file or directory")


def test_mem_used_pct_excludes_cache():
    report = parse_probe(probe_text())

    # 450000 kB of page cache is available, so it does not count as used.
    assert report.mem_used_pct == pytest.approx(40.0)


# CPU


def test_cpu_usage_two_samples():
    first = parse_cpu_sample("cpu  1000 0 500 8000 500 0 0 0 0 0")
    second = parse_cpu_sample("cpu  1090 0 530 8060 520 0 0 0 0 0")

    usage = compute_cpu_usage(first, second)

    # The since-boot average of the first line alone would be 15 %.
    assert usage.busy_pct == pytest.approx(60.0)
    assert usage.iowait_pct == pytest.approx(10.0)


def test_cpu_guest_not_counted_twice():
    first = parse_cpu_sample("cpu  1000 0 500 8000 500 0 0 0 0 0")
    second = parse_cpu_sample("cpu  1090 0 530 8060 520 0 0 0 80 0")

    usage = compute_cpu_usage(first, second)

    assert usage.busy_pct == pytest.approx(60.0)


def test_cpu_iowait_decrease_clamped():
    first = parse_cpu_sample("cpu  1000 0 500 8000 500 0 0 0")
    second = parse_cpu_sample("cpu  1100 0 500 8100 490 0 0 0")

    usage = compute_cpu_usage(first, second)

    assert usage.busy_pct == pytest.approx(50.0)
    assert usage.iowait_pct == 0.0


def test_cpu_old_kernel_four_columns():
    times = parse_cpu_sample("cpu  10 20 30 40")

    assert times == CpuTimes(10, 20, 30, 40, 0, 0, 0, 0)


def test_cpu_equal_samples_rejected():
    times = parse_cpu_sample("cpu  1 2 3 4 5 6 7 8")

    with pytest.raises(ValueError, match="equal"):
        compute_cpu_usage(times, times)


def test_cpu_sample_without_cpu_line():
    with pytest.raises(ValueError, match="no 'cpu ' line"):
        parse_cpu_sample("head: cannot open '/proc/stat'")


# Processes


@pytest.mark.parametrize(
    ("prefix", "comm"),
    [
        ("6777 (Plex Media Serv) S 1", "Plex Media Serv"),
        ("107 (DWC Notificatio) S 2", "DWC Notificatio"),
        ("1234 ((sd-pam)) S 1", "(sd-pam)"),
        ("55 (a) b) S 1", "a) b"),
    ],
)
def test_process_comm_with_spaces(prefix, comm):
    # Fields 5 to 52 of the line are zeros.
    line = prefix + " 0" * 48

    assert parse_process_stat_line(line).comm == comm


def test_process_stat_fields():
    line = stat_line(
        6777, "Plex Media Serv", ppid=1, utime=120, stime=30, start=4242, rss=512
    )

    stat = parse_process_stat_line(line)

    assert stat == ProcessStat(
        pid=6777,
        comm="Plex Media Serv",
        state="S",
        ppid=1,
        utime=120,
        stime=30,
        start_ticks=4242,
        rss_pages=512,
    )


@pytest.mark.parametrize(
    "line",
    ["", "123 no parens S 1 2", "123 (short) S 1 2 3", "x (bad) " + "1 " * 30],
)
def test_process_stat_malformed(line):
    with pytest.raises(ValueError):
        parse_process_stat_line(line)


def test_process_cpu_from_two_samples():
    first = [parse_process_stat_line(stat_line(700, "java", utime=100, stime=10))]
    second = [parse_process_stat_line(stat_line(700, "java", utime=140, stime=20))]

    (sample,) = compute_process_samples(first, second, 100, 4096)

    assert sample.cpu_pct == pytest.approx(50.0)
    assert sample.rss_kb == 40


def test_process_cpu_above_one_core():
    first = [parse_process_stat_line(stat_line(700, "java", utime=0))]
    second = [parse_process_stat_line(stat_line(700, "java", utime=300))]

    (sample,) = compute_process_samples(first, second, 200, 4096)

    assert sample.cpu_pct == pytest.approx(150.0)


def test_process_reused_pid_skipped():
    first = [parse_process_stat_line(stat_line(700, "old", start=100, utime=10))]
    second = [parse_process_stat_line(stat_line(700, "new", start=500, utime=90))]

    assert compute_process_samples(first, second, 100, 4096) == []


def test_processes_in_report():
    report = parse_probe(probe_text())
    by_pid = {process.pid: process for process in report.processes}

    assert sorted(by_pid) == [1, 2, 40, 612, 700]
    assert by_pid[700].cpu_pct == pytest.approx(180.0)
    assert by_pid[700].rss_kb == 1000000
    assert by_pid[1].cpu_pct == pytest.approx(1.0)


def test_top_cpu_skips_kernel_threads():
    report = parse_probe(probe_text())

    top = report.top_cpu(3)

    # kswapd0 used 90 % of a core but is a kernel thread.
    assert [process.pid for process in top] == [700, 1, 612]


def test_top_memory_order():
    report = parse_probe(probe_text())

    top = report.top_memory(2)

    assert [process.comm for process in top] == ["java", "cron"]


def test_kernel_thread_flag():
    kthreadd = ProcessSample(2, 0, "kthreadd", 0.0, 0, 1)
    worker = ProcessSample(40, 2, "kswapd0", 0.0, 0, 2)
    init = ProcessSample(1, 0, "init", 0.0, 100, 1)

    assert kthreadd.is_kernel_thread
    assert worker.is_kernel_thread
    assert not init.is_kernel_thread


def test_unparsable_process_lines_counted():
    procs2 = PROCS2 + "\n901 (split\nname) S 1 2"

    report = parse_probe(probe_text({"procs2": procs2}))

    assert "procs2: skipped 2 unparsable /proc/PID/stat lines" in report.errors
    assert len(report.processes) == 5


# Pressure


@pytest.mark.parametrize(
    "error",
    [
        "cat: /proc/pressure/io: No such file or directory",
        "cat: /proc/pressure/io: Operation not supported",
    ],
)
def test_pressure_unsupported(error):
    report = parse_probe(probe_text({"psi_io": error}))

    assert report.io_pressure is None
    assert report.io_pressure_error == error
    assert report.errors == []


def test_pressure_cpu_some_only():
    pressure = parse_pressure(
        "some avg10=2.65 avg60=2.78 avg300=2.92 total=111749368752"
    )

    assert pressure is not None
    assert pressure.some is not None
    assert pressure.some.avg10 == 2.65
    assert pressure.some.total == 111749368752
    assert pressure.full is None


def test_pressure_io_some_and_full():
    report = parse_probe(probe_text())
    pressure = report.io_pressure

    assert pressure is not None
    assert pressure.some is not None
    assert pressure.full is not None
    assert pressure.some.avg60 == 1.11
    assert pressure.full.avg60 == 0.91
    assert pressure.full.total == 2334731
    assert report.io_pressure_error == ""


def test_pressure_zero_is_supported():
    pressure = parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0")

    assert pressure is not None
    assert pressure.some is not None
    assert pressure.some.avg10 == 0.0


def test_pressure_malformed_line():
    report = parse_probe(probe_text({"psi_io": "some avg10=x avg60=1 total=3"}))

    assert report.io_pressure is None
    assert report.errors[0].startswith("psi_io: malformed pressure line")
    assert report.io_pressure_error.startswith("malformed pressure line")


# systemd units


def test_failed_units_across_versions():
    text = "\n".join(
        [
            "fail-test-unit.service loaded failed failed Failing unit",
            "  my-unit.service loaded active running My Unit",
            "● fail2ban.service loaded failed failed Fail2Ban Service",
            "* nfs.mount loaded failed failed /srv/nfs",
        ]
    )

    units = parse_failed_units(text)

    assert [unit.unit for unit in units] == [
        "fail-test-unit.service",
        "my-unit.service",
        "fail2ban.service",
        "nfs.mount",
    ]
    assert units[0].description == "Failing unit"
    assert units[1].active == "active"
    assert units[1].sub == "running"
    assert units[1].description == "My Unit"
    assert units[3].description == "/srv/nfs"


def test_failed_unit_bullet_stripped():
    (unit,) = parse_failed_units(
        "● fail2ban.service loaded failed failed Fail2Ban Service"
    )

    assert unit.unit == "fail2ban.service"
    assert unit.load == "loaded"
    assert unit.active == "failed"
    assert unit.sub == "failed"
    assert unit.description == "Fail2Ban Service"


def test_failed_units_empty_output():
    assert parse_failed_units("") == []


def test_failed_units_count_line_ignored():
    errors: list[str] = []

    units = parse_failed_units("0 loaded units listed.\n", errors)

    assert units == []
    assert errors == []


def test_failed_units_error_text_reported():
    errors: list[str] = []

    units = parse_failed_units("sh: 1: systemctl: not found", errors)

    assert units == []
    assert errors == ["unparsable failed unit line 'sh: 1: systemctl: not found'"]


def test_systemctl_show_any_order():
    properties = parse_systemctl_show(
        "SubState=dead\nNRestarts=0\nId=foo.service\n"
        "ActiveState=inactive\nLoadState=not-found\n"
    )

    assert properties["LoadState"] == "not-found"
    assert properties["Id"] == "foo.service"


def test_systemctl_show_error_rejected():
    with pytest.raises(ValueError, match="not valid"):
        parse_systemctl_show("Unit name foo bar is not valid.")


def test_nonexistent_unit_not_found():
    properties = {
        "LoadState": "not-found",
        "ActiveState": "inactive",
        "SubState": "dead",
    }

    assert classify_service(properties) == ServiceStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("active", "sub", "expected"),
    [
        ("active", "running", ServiceStatus.UP),
        ("active", "exited", ServiceStatus.UP),
        ("reloading", "running", ServiceStatus.UP),
        ("failed", "failed", ServiceStatus.FAILED),
        ("inactive", "dead", ServiceStatus.DOWN),
        ("activating", "start-pre", ServiceStatus.TRANSITIONAL),
        ("activating", "auto-restart", ServiceStatus.CRASH_LOOP),
        ("activating", "auto-restart-queued", ServiceStatus.CRASH_LOOP),
        ("deactivating", "stop-sigterm", ServiceStatus.TRANSITIONAL),
        ("", "", ServiceStatus.UNKNOWN),
        ("sleeping", "x", ServiceStatus.UNKNOWN),
    ],
)
def test_service_states(active, sub, expected):
    properties = {"LoadState": "loaded", "ActiveState": active, "SubState": sub}

    assert classify_service(properties) == expected


def test_crash_loop_auto_restart():
    properties = {
        "LoadState": "loaded",
        "ActiveState": "activating",
        "SubState": "auto-restart",
        "NRestarts": "37",
    }

    assert classify_service(properties) == ServiceStatus.CRASH_LOOP


def test_crash_loop_restart_count_grew():
    properties = {
        "LoadState": "loaded",
        "ActiveState": "active",
        "SubState": "running",
        "NRestarts": "5",
    }

    assert classify_service(properties, previous_n_restarts=4) == (
        ServiceStatus.CRASH_LOOP
    )
    assert classify_service(properties, previous_n_restarts=5) == ServiceStatus.UP
    assert classify_service(properties) == ServiceStatus.UP


def test_systemd_services_in_report():
    text = systemd_text(
        {
            "nginx": "Id=nginx.service\nLoadState=loaded\nActiveState=active\n"
            "SubState=running\nNRestarts=2",
            "ghost": "Id=ghost.service\nLoadState=not-found\nActiveState=inactive\n"
            "SubState=dead\nNRestarts=0",
        },
        failed_units="● fail2ban.service loaded failed failed Fail2Ban Service",
    )

    report = parse_probe(text, previous_n_restarts={"nginx": 1})
    nginx, ghost = report.services

    assert report.systemd_available
    assert nginx.status == ServiceStatus.CRASH_LOOP
    assert nginx.n_restarts == 2
    assert nginx.source == "systemd"
    assert ghost.status == ServiceStatus.NOT_FOUND
    assert ghost.load_state == "not-found"
    assert report.failed_units[0].unit == "fail2ban.service"
    assert report.errors == []


def test_systemd_service_section_missing():
    text = systemd_text({"nginx": "LoadState=loaded\nActiveState=active"})

    report = parse_probe(text, services=["nginx", "redis"])

    assert report.services[0].status == ServiceStatus.UP
    assert report.services[1].status == ServiceStatus.UNKNOWN
    assert report.errors == ["service redis: section missing"]


def test_systemd_old_version_no_restart_count():
    text = systemd_text({"cron": "LoadState=loaded\nActiveState=active"})

    (cron,) = parse_probe(text).services

    assert cron.n_restarts is None


# Services without systemd


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cron", ServiceStatus.UP),
        ("cron.service", ServiceStatus.UP),
        ("sshd", ServiceStatus.UP),
        ("systemd-journald", ServiceStatus.UP),
        ("nginx", ServiceStatus.DOWN),
        ("cro", ServiceStatus.DOWN),
    ],
)
def test_service_by_process_name(name, expected):
    procs2 = (
        PROCS2
        + "\n"
        + "\n".join(
            [
                stat_line(22, "sshd", start=20),
                stat_line(23, "systemd-journal", start=20),
            ]
        )
    )

    report = parse_probe(probe_text({"procs2": procs2}), services=[name])
    (service,) = report.services

    assert service.status == expected
    assert service.source == "process"


def test_services_default_to_probe_list():
    report = parse_probe(probe_text())

    assert [service.name for service in report.services] == ["cron", "nginx"]
    assert [service.status for service in report.services] == [
        ServiceStatus.UP,
        ServiceStatus.DOWN,
    ]


def test_services_unknown_without_processes():
    report = parse_probe(probe_text({"procs2": ""}), services=["cron"])

    assert report.services[0].status == ServiceStatus.UNKNOWN


# Whole report


def test_report_from_base_output():
    report = parse_probe(probe_text())

    assert report.hostname == "web1"
    assert report.kernel == "6.1.0-18-amd64"
    assert report.cpu_count == 2
    assert report.cpu_busy_pct == pytest.approx(60.0)
    assert report.cpu_iowait_pct == pytest.approx(10.0)
    assert report.mem_total_kb == 1000000
    assert report.mem_available_kb == 600000
    assert [fs.target for fs in report.filesystems] == ["/", "/boot"]
    assert report.systemd_available is False
    assert report.failed_units == []
    assert report.errors == []


def test_no_markers_rejected():
    with pytest.raises(
        ValueError, match="no '@@opsguard NAME' section markers"
    ) as info:
        parse_probe("Permission denied (publickey).\n")

    assert "Permission denied" in str(info.value)


def test_no_markers_message_truncated():
    with pytest.raises(ValueError) as info:
        parse_probe("x" * 10000)

    assert len(str(info.value)) < 500


def test_truncated_output_never_raises():
    lines = probe_text().split("\n")

    for end in range(1, len(lines)):
        text = "\n".join(lines[:end])
        report = parse_probe(text)
        assert isinstance(report, ProbeReport), end


def test_malformed_section_kept_apart():
    report = parse_probe(probe_text({"meminfo": "garbage", "nproc": "two"}))

    assert report.mem_total_kb is None
    assert report.cpu_count == 0
    assert report.hostname == "web1"
    assert report.cpu_busy_pct == pytest.approx(60.0)
    assert any(error.startswith("meminfo:") for error in report.errors)
    assert any(error.startswith("nproc:") for error in report.errors)


def test_missing_section_reported():
    report = parse_probe(probe_text({"df": None}))

    assert report.filesystems == []
    assert report.errors == ["df: section missing"]


def test_uptime_missing_uses_cpu_ticks():
    report = parse_probe(probe_text({"uptime1": None}))
    java = next(process for process in report.processes if process.comm == "java")

    # 200 /proc/stat ticks over 2 CPUs are 100 ticks of wall time.
    assert java.cpu_pct == pytest.approx(180.0)
    assert report.errors == ["uptime1: section missing"]


def test_ssh_banner_and_crlf():
    text = "Welcome to web1\r\n" + probe_text().replace("\n", "\r\n")

    report = parse_probe(text)

    assert report.hostname == "web1"
    assert report.filesystems[0].target == "/"
    assert report.errors[0].startswith("ignored output before the first section")


def test_newer_probe_version_reported():
    report = parse_probe(probe_text({"version": "2"}))

    assert "version: probe format 2" in report.errors[0]
    assert report.hostname == "web1"


def test_split_sections_repeated_name():
    sections, problems = split_sections("@@opsguard a\n1\n@@opsguard a\n2\n")

    assert sections == {"a": "2"}
    assert problems == ["a: repeated section; the last one is used"]


def test_report_dict_round_trip():
    report = parse_probe(probe_text())

    data = report.to_dict()
    restored = ProbeReport.from_dict(json.loads(json.dumps(data)))

    assert restored == report
    assert data["services"][0]["status"] == "up"
    assert data["mem_used_pct"] == pytest.approx(40.0)
    assert [process["pid"] for process in data["top_cpu"]] == [700, 1, 612]


def test_report_dict_unsupported_pressure():
    report = parse_probe(probe_text({"psi_io": "cat: /proc/pressure/io: x"}))

    restored = ProbeReport.from_dict(report.to_dict())

    assert restored.io_pressure is None
    assert restored.io_pressure_error == "cat: /proc/pressure/io: x"
