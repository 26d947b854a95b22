import pytest
from django.core.exceptions import ValidationError

from automation.models import RemediationTemplate


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"executor": "awx"}, "not available yet"),
        ({"playbook": "../../../etc/hostname"}, "No playbook"),
        ({"playbook": "nonexistent.yml"}, "No playbook"),
    ],
)
def test_template_rejects_unusable(fields, message):
    values = {"slug": "x", "executor": "local", "playbook": "reboot.yml", **fields}
    template = RemediationTemplate(**values)

    with pytest.raises(ValidationError) as error:
        template.clean()

    assert message in str(error.value)


def test_template_accepts_bundled_playbook():
    RemediationTemplate(slug="x", executor="local", playbook="reboot.yml").clean()
