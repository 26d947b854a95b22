"""Validate a job request and build the input that ansible-runner gets.

The input is the inventory, the extra vars and the process environment, which
`LocalExecutor` writes into the job directory or passes to ansible-runner.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from .base import ExecutorError, JobRequest

IDENT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
# Inventory names are also used as the --limit pattern, so the characters that
# Ansible reads as pattern syntax (*, !, &, :, ',', [ ]) are not allowed.
HOST_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
# A DNS name, IPv4 or IPv6 address. It reaches ssh's command line, so it may
# not start with '-'.
ADDRESS_PATTERN = re.compile(r"[A-Za-z0-9_.:\[\]][A-Za-z0-9_.:\[\]-]{0,252}")
VARIABLE_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# The worker's environment variables that the job inherits, besides ANSIBLE_*.
# ansible-runner writes the job's environment to artifacts/<ident>/command,
# so the worker's other variables (its secrets) stay out of the job.
# SSH_AUTH_SOCK lets ssh use the worker's ssh-agent for remote hosts.
INHERITED_ENVIRONMENT = (
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "TZ",
    "TMPDIR",
    "SSH_AUTH_SOCK",
)


def check_request(request: JobRequest, playbook_dir: Path) -> None:
    """Raise a permanent ExecutorError when a field of `request` is invalid."""
    if not IDENT_PATTERN.fullmatch(request.ident):
        raise ExecutorError(
            f"Invalid job id {request.ident!r}: use 1-100 characters of "
            "a-z, 0-9 and '-', starting with a letter or digit.",
            permanent=True,
        )
    _check_playbook(request.playbook, playbook_dir)
    if not HOST_NAME_PATTERN.fullmatch(request.target_host):
        raise ExecutorError(
            f"Invalid inventory name {request.target_host!r}: use letters, "
            "digits and '._-', starting with a letter, digit or '_'.",
            permanent=True,
        )
    if request.address and not ADDRESS_PATTERN.fullmatch(request.address):
        raise ExecutorError(
            f"Invalid address {request.address!r} for host "
            f"{request.target_host}: use a DNS name or an IP address, or "
            "'' for this machine.",
            permanent=True,
        )


def _check_playbook(playbook: str, playbook_dir: Path) -> None:
    if "/" in playbook or "\\" in playbook or playbook in ("", ".", ".."):
        raise ExecutorError(
            f"Invalid playbook name {playbook!r}: give a file name in "
            f"{playbook_dir}, without a directory.",
            permanent=True,
        )
    if not (playbook_dir / playbook).is_file():
        known = ", ".join(sorted(p.name for p in playbook_dir.glob("*.yml")))
        raise ExecutorError(
            f"Playbook {playbook!r} not found in {playbook_dir}. "
            f"Available playbooks: {known or 'none'}.",
            permanent=True,
        )


def build_inventory(target_host: str, address: str) -> str:
    """Return a YAML inventory with the one target host."""
    if address:
        host_vars: dict[str, str] = {"ansible_host": address}
    else:
        host_vars = {
            "ansible_connection": "local",
            # Interpreter discovery may pick a python3 that does not run, such
            # as a pyenv shim, so modules here run with OpsGuard's Python.
            "ansible_python_interpreter": sys.executable,
        }
    inventory = {"all": {"hosts": {target_host: host_vars}}}
    return yaml.safe_dump(inventory, default_flow_style=False)


class _UnsafeText(str):
    pass


class _ExtraVarsDumper(yaml.SafeDumper):
    pass


def _represent_unsafe(dumper: yaml.SafeDumper, text: _UnsafeText) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(text), style='"')


_ExtraVarsDumper.add_representer(_UnsafeText, _represent_unsafe)


def render_extra_vars(extra_vars: dict[str, object]) -> str:
    """Return the extra vars as YAML with every string tagged !unsafe.

    Ansible renders Jinja2 in extra vars, and values such as a process name
    come from the monitored host, so "{{ lookup('pipe', ...) }}" in one would
    run a command. The !unsafe tag makes Ansible use the text as it is.
    """
    for name in extra_vars:
        _check_variable_name(name)
    unsafe = {name: _mark_unsafe(value, name) for name, value in extra_vars.items()}
    return yaml.dump(
        unsafe,
        Dumper=_ExtraVarsDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
    )


def _check_variable_name(name: object) -> None:
    if not isinstance(name, str) or not VARIABLE_NAME_PATTERN.fullmatch(name):
        raise ExecutorError(
            f"Invalid extra variable name {name!r}: use letters, digits and '_', "
            "starting with a letter or '_'.",
            permanent=True,
        )
    # ansible_* variables set the connection (host, user, become). Extra vars
    # take precedence over the inventory, so one could send the job elsewhere.
    if name.startswith("ansible_"):
        raise ExecutorError(
            f"Extra variable {name!r} is not allowed: ansible_* variables "
            "configure the connection and come only from the inventory.",
            permanent=True,
        )


def _mark_unsafe(value: object, where: str) -> Any:
    if isinstance(value, str):
        return _UnsafeText(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_mark_unsafe(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            _mark_unsafe(key, where): _mark_unsafe(item, f"{where}.{key}")
            for key, item in value.items()
        }
    raise ExecutorError(
        f"Extra variable {where} has type {type(value).__name__}. Use strings, "
        "numbers, booleans, None, lists and dicts.",
        permanent=True,
    )


def runner_environment(job_dir: Path) -> dict[str, str]:
    """Return the environment for ansible-runner and the playbook."""
    environment = {
        name: os.environ[name] for name in INHERITED_ENVIRONMENT if name in os.environ
    }
    environment.update(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith("ANSIBLE_")
    )

    # ansible-playbook lives next to the interpreter in the virtualenv.
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)])
    environment.update(
        {
            "LC_ALL": "C.UTF-8",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOWS": "True",
            "ANSIBLE_NOCOLOR": "True",
            # ansible-runner turns host key checking off unless this is set.
            # A local connection has no host key, and ssh keeps checking.
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_LOCAL_TEMP": str(job_dir / "tmp"),
            # Remote hosts use the Python that Ansible discovers, without a
            # warning. The inventory sets the interpreter for this machine.
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        }
    )
    return environment
