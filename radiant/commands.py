"""A base for operator commands: JSON on stdout, a message and non-zero exit on error."""

import getpass
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from radiant.actors import acting_as
from radiant.invalidation import InvalidationUnavailable


class JsonCommand(BaseCommand):
    """Subclasses implement ``run(**options)`` and return a JSON-serialisable result.

    Operator errors (``ValueError`` and its subclasses from services, and a model's
    ``ValidationError`` such as an invalid slug or a blank name) and changes the cache could
    not make effective become a CommandError: one line on stderr and exit status 1, with
    nothing half-done, never a traceback. What a command changes is audited as done by
    ``command:<name>``.
    """

    def handle(self, *args, **options):
        try:
            with acting_as("command", self.command_name()):
                result = self.run(**options)
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from exc
        except (ValueError, InvalidationUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if result is not None:
            self.stdout.write(json.dumps(result, default=str))

    def command_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def operator(self) -> str:
        """Who runs the command, for rows that name an operator (the OS user)."""
        try:
            return f"{getpass.getuser()} (manage.py {self.command_name()})"
        except Exception:  # no user name in a container
            return f"manage.py {self.command_name()}"

    def run(self, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def progress(self, message):
        """A progress line for long commands, on stderr so stdout stays JSON."""
        self.stderr.write(message)


def one_line(error: ValidationError) -> str:
    """A model's validation errors as one line: ``field: message; field: message``."""
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)
