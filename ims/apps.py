from django.apps import AppConfig


class ImsConfig(AppConfig):
    """The SIP side toward the IMS core: registration, chat, calls, media gateway control."""

    name = "ims"
    verbose_name = "IMS connector"
