from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from help_desk import demo as help_desk_demo
from identity_blocks import demo as identity_demo


class Command(BaseCommand):
    help = "Create (or reuse) the demo's accounts and data and print the log-ins. Demo only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo sets well-known passwords; it runs only with DEBUG on.")
        for line in identity_demo.seed() + help_desk_demo.seed():
            self.stdout.write(line)
