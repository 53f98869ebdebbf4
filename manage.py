#!/usr/bin/env python
"""Django's command-line entry point."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameproject.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  # loads the settings, which check the environment
    except ImproperlyConfigured as exc:
        # A configuration problem is the operator's to fix: say it in words, not a traceback.
        sys.exit(f"manage.py: {exc}\nOn a laptop, set DEBUG=true (make run does).")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
