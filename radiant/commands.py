"""A base for operator commands: JSON on stdout, a message and non-zero exit on error."""

import json

from django.core.management.base import BaseCommand, CommandError

from radiant.cache import InvalidationUnavailable


class JsonCommand(BaseCommand):
    """Subclasses implement ``run(**options)`` and return a JSON-serialisable result.

    Operator errors (``ValueError`` and its subclasses from services) and changes the cache
    could not make effective become a CommandError: the message on stderr and exit status 1,
    with nothing half-done.
    """

    def handle(self, *args, **options):
        try:
            result = self.run(**options)
        except (ValueError, InvalidationUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if result is not None:
            self.stdout.write(json.dumps(result, default=str))

    def run(self, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def progress(self, message):
        """A progress line for long commands, on stderr so stdout stays JSON."""
        self.stderr.write(message)
