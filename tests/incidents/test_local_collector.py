"""Tests that run probe.sh and LocalCollector on this machine."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from incidents.collectors import CollectorError, LocalCollector, get_collector
from incidents.probe import PROBE_SCRIPT
from incidents.probe.parser import ServiceStatus, parse_probe

# This test machine runs without systemd, has /proc/pressure and a real root
# filesystem. The systemd branch runs against a fake systemctl below.


@dataclass
class Target:
    name: str = "localhost"
    address: str = ""
    critical_services: list[str] = field(default_factory=list)


@pytest.fixture
def uniquely_named_process(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Run a copy of sleep under a name no other process has."""
    name = f"ogsvc{os.getpid()}"[:15]
    binary = tmp_path / name
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "30"])
    try:
        yield name, process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def cpu_burner() -> Iterator[int]:
    process = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run_probe_script(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> str:
    completed = subprocess.run(
        ["sh", str(PROBE_SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=30,
        check=True,
    )
    return completed.stdout


# The script itself


def test_probe_sets_locale_first():
    lines = PROBE_SCRIPT.read_text().splitlines()
    code = [line for line in lines if line.strip() and not line.startswith("#")]

    assert code[0] == "export LC_ALL=C"


def test_probe_parses_as_posix_sh():
    dash = shutil.which("dash") or "sh"

    completed = subprocess.run(
        [dash, "-n", str(PROBE_SCRIPT)], capture_output=True, text=True, timeout=10
    )

    assert completed.returncode == 0, completed.stderr


def test_probe_leaves_directories_empty(tmp_path: Path):
    work = tmp_path / "work"
    temp = tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(temp), "HOME": str(work)}

    run_probe_script(["0.1", "cron"], env, cwd=work)

    assert list(work.iterdir()) == []
    assert list(temp.iterdir()) == []


def test_probe_sections_in_order():
    output = run_probe_script(["0.1"], {"PATH": os.environ["PATH"]})
    names = [
        line.removeprefix("@@opsguard ")
        for line in output.splitlines()
        if line.startswith("@@opsguard ")
    ]

    assert names == [
        "version",
        "hostname",
        "uname",
        "nproc",
        "pagesize",
        "clk_tck",
        "stat1",
        "uptime1",
        "procs1",
        "stat2",
        "uptime2",
        "procs2",
        "meminfo",
        "df",
        "psi_io",
        "services",
        "systemd",
    ]


def test_probe_service_names_not_executed(tmp_path: Path):
    marker = tmp_path / "executed"
    names = [f"$(touch {marker})", f"`touch {marker}`", f"x; touch {marker}"]

    report = LocalCollector(sample_seconds=0.1).probe(Target(critical_services=names))

    assert not marker.exists()
    assert [service.name for service in report.services] == names


# Systemd branch, against a fake systemctl

FAKE_SYSTEMCTL = r"""#!/bin/sh
# Prints canned systemctl output. `show` requires "--" before the unit name.
if [ "$1" = list-units ]; then
    echo "● fail2ban.service loaded failed failed Fail2Ban Service"
    exit 0
fi
before_last=""
last=""
for arg in "$@"; do
    before_last=$last
    last=$arg
done
if [ "$before_last" != "--" ]; then
    echo "fake systemctl: no -- before $last" >&2
    exit 1
fi
case $last in
    nginx)
        printf 'Id=nginx.service\nLoadState=loaded\nActiveState=active\n'
        printf 'SubState=running\nNRestarts=3\n'
        ;;
    *)
        printf 'Id=%s.service\nLoadState=not-found\n' "$last"
        printf 'ActiveState=inactive\nSubState=dead\nNRestarts=0\n'
        ;;
esac
"""


def test_probe_systemd_branch(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_executable(bin_dir / "systemctl", FAKE_SYSTEMCTL)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "OPSGUARD_SYSTEMD_RUNTIME_DIR": str(tmp_path),
    }
    names = ["nginx", "-H evil", "ghost.service"]

    report = parse_probe(run_probe_script(["0.1", *names], env))
    statuses = {service.name: service.status for service in report.services}

    assert report.systemd_available
    assert statuses == {
        "nginx": ServiceStatus.UP,
        "-H evil": ServiceStatus.NOT_FOUND,
        "ghost.service": ServiceStatus.NOT_FOUND,
    }
    assert report.services[0].n_restarts == 3
    assert report.failed_units[0].unit == "fail2ban.service"
    assert report.errors == []


def test_probe_skips_multiline_service_name(tmp_path: Path):
    env = {"PATH": os.environ["PATH"], "OPSGUARD_SYSTEMD_RUNTIME_DIR": str(tmp_path)}
    forged = "x\n@@opsguard hostname\nforged"

    output = run_probe_script(["0.1", forged], env)
    report = parse_probe(output, services=[forged])

    assert "forged" not in output
    assert report.hostname != "forged"
    assert report.services[0].status == ServiceStatus.UNKNOWN


# A real probe of this machine


def test_local_probe_reads_host():
    report = LocalCollector().probe(Target())
    targets = [filesystem.target for filesystem in report.filesystems]

    assert report.hostname != ""
    assert report.kernel != ""
    assert report.cpu_count >= 1
    assert report.mem_total_kb is not None
    assert report.mem_total_kb > 0
    assert report.mem_available_kb is not None
    assert report.cpu_busy_pct is not None
    assert "/" in targets
    assert report.io_pressure is not None
    assert report.io_pressure_error == ""
    assert report.systemd_available is False
    assert len(report.processes) > 1
    assert report.errors == []


def test_local_probe_service_by_process(uniquely_named_process: tuple[str, int]):
    name, _pid = uniquely_named_process
    services = [name, f"{name}.service", "og-made-up-svc"]

    report = LocalCollector().probe(Target(critical_services=services))
    statuses = [service.status for service in report.services]

    assert statuses == [ServiceStatus.UP, ServiceStatus.UP, ServiceStatus.DOWN]
    assert report.services[0].source == "process"


def test_local_probe_finds_cpu_burner(cpu_burner: int):
    report = LocalCollector().probe(Target())
    top = {process.pid: process for process in report.top_cpu()}

    assert cpu_burner in top
    assert top[cpu_burner].cpu_pct >= 50


# Collector errors


def test_get_collector_local():
    assert isinstance(get_collector("local"), LocalCollector)


def test_get_collector_unknown_kind():
    with pytest.raises(ValueError, match="unknown collector kind 'telnet'.*local"):
        get_collector("telnet")


@pytest.mark.parametrize(
    ("sample_seconds", "timeout"), [(0, 30), (-1, 30), (5, 5), (5, 1)]
)
def test_local_collector_bad_settings(sample_seconds, timeout):
    with pytest.raises(ValueError):
        LocalCollector(sample_seconds=sample_seconds, timeout=timeout)


def test_local_collector_rejects_newline_name():
    collector = LocalCollector(sample_seconds=0.1)

    with pytest.raises(CollectorError, match="invalid critical service name"):
        collector.run_probe(Target(critical_services=["cron\nsshd"]))


def fake_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: str) -> None:
    """Put an `sh` that runs `body` first on the PATH the collector passes on."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    dash = shutil.which("dash") or "/bin/sh"
    write_executable(bin_dir / "sh", f"#!{dash}\n{body}\n")
    monkeypatch.setenv("PATH", str(bin_dir))


def test_local_collector_missing_shell(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(CollectorError, match="host localhost: .*'sh' was not found"):
        LocalCollector().run_probe(Target())


def test_local_collector_timeout(monkeypatch, tmp_path):
    fake_shell(monkeypatch, tmp_path, "exec /bin/sleep 10")
    collector = LocalCollector(sample_seconds=0.1, timeout=0.5)

    with pytest.raises(CollectorError, match="timed out after 0.5 s"):
        collector.run_probe(Target())


def test_local_collector_failure_without_output(monkeypatch, tmp_path):
    fake_shell(monkeypatch, tmp_path, "echo 'probe.sh: boom' >&2\nexit 3")

    with pytest.raises(CollectorError, match="status 3 .*boom"):
        LocalCollector().run_probe(Target())


def test_local_collector_output_not_probe(monkeypatch, tmp_path):
    fake_shell(monkeypatch, tmp_path, "echo 'not a probe'")

    with pytest.raises(CollectorError, match="host localhost: .*not a probe"):
        LocalCollector().probe(Target())
