from django.apps import AppConfig


class HelpDeskConfig(AppConfig):
    """The WWSF: the HELP button, help requests, queues, advisors, chat and calls."""

    name = "help_desk"
    verbose_name = "Help desk"

    def ready(self) -> None:
        from help_desk import arrivals, secure  # noqa: F401 (they connect their receivers of the IMS side's signals)
