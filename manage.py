#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that read only the models and migrations (never a secret, never served data): with
# DEBUG unset they run with the development settings, so that a fresh clone can check its
# migrations without production secrets. Every other command keeps the production default.
DEVELOPER_COMMANDS = {"makemigrations"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if len(sys.argv) > 1 and sys.argv[1] in DEVELOPER_COMMANDS:
        os.environ.setdefault("DEBUG", "true")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration mistake is one readable line, not a traceback.
        sys.exit(f"custodia: configuration error: {error}")


if __name__ == "__main__":
    main()
