"""Run the probe on this machine."""

from __future__ import annotations

import logging
import os
import subprocess
from typing import ClassVar

from incidents.collectors.base import (
    Collector,
    CollectorError,
    ProbeTarget,
    register_collector,
)
from incidents.probe import PROBE_SCRIPT

logger = logging.getLogger(__name__)

_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@register_collector
class LocalCollector(Collector):
    """Run probe.sh with the local `sh`; the host's address is not used."""

    kind: ClassVar[str] = "local"

    def __init__(self, sample_seconds: float = 1.0, timeout: float = 30.0) -> None:
        if sample_seconds <= 0:
            raise ValueError(
                f"sample_seconds must be positive, got {sample_seconds}; use 1"
            )
        if timeout <= sample_seconds:
            raise ValueError(
                f"timeout {timeout} s must exceed sample_seconds {sample_seconds} s"
            )
        self.sample_seconds = sample_seconds
        self.timeout = timeout

    def run_probe(self, host: ProbeTarget) -> str:
        command = self._command(host)
        logger.debug("probing host %s with %s", host.name, command)
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env=self._environment(),
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CollectorError(
                f"host {host.name}: cannot run the probe because {exc.filename!r} "
                "was not found; install a POSIX shell as 'sh' on the PATH"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise CollectorError(
                f"host {host.name}: probe timed out after {self.timeout} s; "
                "check for a hung mount or raise the collector timeout"
            ) from exc
        return self._output(host, completed)

    def _command(self, host: ProbeTarget) -> list[str]:
        for name in host.critical_services:
            if not name or not name.isprintable():
                raise CollectorError(
                    f"host {host.name}: invalid critical service name {name!r}; "
                    "use a unit or process name without control characters"
                )
        sample = f"{self.sample_seconds:g}"
        return ["sh", str(PROBE_SCRIPT), sample, *host.critical_services]

    def _environment(self) -> dict[str, str]:
        # Only PATH and the locale: the probe needs nothing else, and a
        # translated locale would change the output it prints.
        return {"PATH": os.environ.get("PATH", _DEFAULT_PATH), "LC_ALL": "C"}

    def _output(
        self, host: ProbeTarget, completed: subprocess.CompletedProcess[bytes]
    ) -> str:
        # Process names are arbitrary bytes, so undecodable ones are replaced.
        stdout = completed.stdout.decode("utf-8", errors="replace")
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        if completed.returncode != 0 and not stdout.strip():
            raise CollectorError(
                f"host {host.name}: probe exited with status {completed.returncode} "
                f"and no output; stderr: {stderr[:500]!r}"
            )
        if completed.returncode != 0 or stderr:
            logger.warning(
                "probe of host %s exited with status %d; stderr: %s",
                host.name,
                completed.returncode,
                stderr[:500],
            )
        return stdout
