"""Help-desk queues: where a HELP button's requests wait for an advisor."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from identity_blocks.models import IdentityBlock, ServiceAgreement


def validate_origins(value: str) -> None:
    for origin in value.split():
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host:
            raise ValidationError(f"{origin!r} is not an origin such as https://tax.example.com")


class Queue(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True, help_text="Used by the HELP button's data-queue attribute.")
    agreement = models.ForeignKey(
        ServiceAgreement, on_delete=models.PROTECT, help_text="Its allowed services are what the help page offers."
    )
    identity_block = models.ForeignKey(
        IdentityBlock, on_delete=models.PROTECT, help_text="Guests of this queue get their identity from this block."
    )
    embedding_origins = models.TextField(
        blank=True, validators=[validate_origins], help_text="Sites allowed to embed the HELP button, one per line."
    )

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return self.embedding_origins.split()
