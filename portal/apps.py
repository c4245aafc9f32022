from django.apps import AppConfig
from django.db.backends.signals import connection_created


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal.prepared import generic_plans

        connection_created.connect(generic_plans, dispatch_uid="portal.generic_plans")
