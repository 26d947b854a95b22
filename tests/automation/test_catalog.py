"""Tests for the catalog check that every proposal passes before a decision."""

from typing import Any

import pytest

from automation.catalog import CatalogError, check_proposal, risk_for
from automation.models import RemediationTemplate
from incidents.models import Host

KILL = {"pid": 4242, "start_ticks": 777, "comm": "burner"}
CLEANUP = {"mount": "/", "paths": ["/tmp"], "min_age_hours": 24}


@pytest.fixture(autouse=True)
def cleanup_paths(settings: Any) -> None:
    settings.DISK_CLEANUP_PATHS = ["/tmp", "/var/tmp"]


@pytest.fixture
def host(register: Any) -> Host:
    return Host.objects.create(name="web-01")


def catalog_error(host: Host, slug: str, parameters: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as caught:
        check_proposal(host, slug, parameters)
    return str(caught.value)


def test_valid_proposal_returns_risk(host, register):
    checked = check_proposal(host, "kill_process", KILL)

    assert checked.template.slug == "kill_process"
    assert checked.parameters == KILL
    assert checked.risk_level == register["medium"]


def test_unknown_template_rejected(host):
    message = catalog_error(host, "rm_rf", {})

    assert message == "template 'rm_rf' is not an enabled template in the catalog"


def test_disabled_template_rejected(host):
    RemediationTemplate.objects.filter(slug="kill_process").update(enabled=False)

    message = catalog_error(host, "kill_process", KILL)

    assert "'kill_process' is not an enabled template" in message


def test_disabled_host_rejected(host):
    Host.objects.filter(pk=host.pk).update(enabled=False)

    message = catalog_error(host, "kill_process", KILL)

    assert message == "host web-01 is not an enabled host in the inventory"


def test_unsaved_host_rejected(register):
    message = catalog_error(Host(name="ghost"), "kill_process", KILL)

    assert "host ghost is not an enabled host" in message


@pytest.mark.parametrize(
    ("slug", "parameters", "where"),
    [
        ("kill_process", {**KILL, "pid": "4242"}, "at pid:"),
        ("kill_process", {**KILL, "pid": 1}, "at pid:"),
        ("restart_service", {"service": "nginx; reboot"}, "at service:"),
        ("disk_cleanup", {**CLEANUP, "paths": ["tmp"]}, "at paths/0:"),
        ("disk_cleanup", {**CLEANUP, "paths": []}, "at paths:"),
        ("disk_cleanup", {**CLEANUP, "min_age_hours": -1}, "at min_age_hours:"),
        ("reboot", {"reason": "x" * 201}, "at reason:"),
    ],
    ids=[
        "pid string",
        "pid 1",
        "service shell text",
        "relative path",
        "no paths",
        "negative age",
        "long reason",
    ],
)
def test_schema_error_names_path(host, slug, parameters, where):
    message = catalog_error(host, slug, parameters)

    assert message.startswith(f"parameters for {slug} are invalid {where}")


@pytest.mark.parametrize(
    ("parameters", "text"),
    [
        ({"pid": 4242, "comm": "burner"}, "'start_ticks' is a required property"),
        ({**KILL, "signal": 9}, "'signal' was unexpected"),
    ],
    ids=["missing key", "extra key"],
)
def test_schema_error_on_whole_object(host, parameters, text):
    message = catalog_error(host, "kill_process", parameters)

    assert message.startswith("parameters for kill_process are invalid at parameters:")
    assert text in message


def test_cleanup_path_in_setting_allowed(host):
    parameters = {"mount": "/var", "paths": ["/var/tmp"], "min_age_hours": 0}

    assert check_proposal(host, "disk_cleanup", parameters).parameters == parameters


@pytest.mark.parametrize("path", ["/etc", "/tmp/../etc", "/tmp/", "/tmp/sub"], ids=str)
def test_cleanup_path_outside_setting_rejected(host, path):
    message = catalog_error(host, "disk_cleanup", {**CLEANUP, "paths": [path]})

    assert message == (
        f"path {path} is not in DISK_CLEANUP_PATHS; add it there to allow "
        "clean-up in it"
    )


def test_cleanup_path_off_mount_rejected(host):
    parameters = {"mount": "/var", "paths": ["/tmp"], "min_age_hours": 24}

    message = catalog_error(host, "disk_cleanup", parameters)

    assert message == "path /tmp is not under the full mount /var"


def test_cleanup_mount_name_prefix_rejected(host, settings):
    settings.DISK_CLEANUP_PATHS = ["/varlib/tmp"]
    parameters = {"mount": "/var", "paths": ["/varlib/tmp"], "min_age_hours": 24}

    message = catalog_error(host, "disk_cleanup", parameters)

    assert "not under the full mount /var" in message


def test_cleanup_path_equal_to_mount(host):
    parameters = {"mount": "/var/tmp", "paths": ["/var/tmp"], "min_age_hours": 24}

    assert check_proposal(host, "disk_cleanup", parameters)


def test_reboot_on_hypervisor_is_high(host, register):
    hypervisor = Host.objects.create(name="pve-01", is_hypervisor=True)
    reboot = RemediationTemplate.objects.get(slug="reboot")

    assert risk_for(reboot, hypervisor) == register["high"]
    assert risk_for(reboot, host) == register["medium"]
    checked = check_proposal(hypervisor, "reboot", {"reason": "test"})
    assert checked.risk_level == register["high"]


def test_hypervisor_without_override_keeps_level(register):
    hypervisor = Host.objects.create(name="pve-01", is_hypervisor=True)
    restart = RemediationTemplate.objects.get(slug="restart_service")

    assert risk_for(restart, hypervisor) == register["low"]


def test_register_change_applies_at_once(host, register):
    # The risk comes from the register row, not from the seed.
    RemediationTemplate.objects.filter(slug="kill_process").update(
        risk_level=register["high"]
    )

    checked = check_proposal(host, "kill_process", KILL)

    assert checked.risk_level == register["high"]
