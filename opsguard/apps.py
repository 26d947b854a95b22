from django.apps import AppConfig


class OpsguardConfig(AppConfig):
    name = "opsguard"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
