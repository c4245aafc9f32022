from django.apps import AppConfig


class IdentityBlocksConfig(AppConfig):
    """The WAF side: operators, agreements, leased IMPU blocks and their assignment to users."""

    name = "identity_blocks"
    verbose_name = "Identity blocks"

    def ready(self) -> None:
        from identity_blocks import signals  # noqa: F401  (connects the log-in receivers)
