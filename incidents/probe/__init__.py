"""The read-only host probe script and the parser for its output."""

from pathlib import Path

from incidents.probe.parser import parse_probe
from incidents.probe.report import ProbeReport

# Ships as package data next to this file.
PROBE_SCRIPT = Path(__file__).with_name("probe.sh")

__all__ = ["PROBE_SCRIPT", "ProbeReport", "parse_probe"]
