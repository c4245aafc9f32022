from django.apps import AppConfig


class HelpDeskConfig(AppConfig):
    """The WWSF: the HELP button, help requests, queues, advisors, chat and calls."""

    name = "help_desk"
    verbose_name = "Help desk"

    def ready(self) -> None:
        from help_desk import arrivals  # noqa: F401 (connects its receivers of the IMS side's signals)
