import pytest
from django.core.exceptions import ValidationError

from incidents.models import Host


@pytest.mark.django_db
def test_local_host_rejects_address():
    host = Host(name="web-01", address="10.0.0.5", collector="local")

    with pytest.raises(ValidationError) as error:
        host.clean()

    assert "10.0.0.5" in str(error.value)


@pytest.mark.django_db
@pytest.mark.parametrize("services", ["sshd", ["sshd", ""], [1]])
def test_services_must_be_name_list(services):
    host = Host(name="web-01", critical_services=services)

    with pytest.raises(ValidationError):
        host.clean()


@pytest.mark.parametrize("name", ["web*", "-web", "a,b", "<script>"])
def test_name_rejects_pattern_syntax(name):
    host = Host(name=name)

    with pytest.raises(ValidationError):
        host.clean_fields()


@pytest.mark.parametrize("address", ["-oProxyCommand=x", "a b", "<b>x</b>"])
def test_address_rejects_unsafe_text(address):
    host = Host(name="web-01", address=address)

    with pytest.raises(ValidationError):
        host.clean_fields()


@pytest.mark.django_db
def test_api_rejects_local_host_address(client):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="x")
    client.login(username="root", password="x")

    response = client.post(
        "/api/hosts/",
        {"name": "web-01", "address": "10.0.0.5", "collector": "local"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "10.0.0.5" in str(response.json())


@pytest.mark.django_db
def test_second_local_host_rejected(local_host):
    host = Host(name="other", collector="local")

    with pytest.raises(ValidationError) as error:
        host.clean()

    assert "localhost" in str(error.value)
