"""Test settings: the real settings module, with the laptop defaults the suite needs.

Tests that are about production configuration start a separate process with a
production environment instead (see tests/test_settings.py).
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "true")

from gameproject.settings import *  # noqa: F403

# Manifest storage needs collectstatic first; the suite renders templates without it.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Fast hashing: the suite creates many users and never needs strong hashes.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# An empty static root of the run's own, so ServeStatic has a directory to watch.
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="static-"))

# Matches start at their first tick, without the arena's "3, 2, 1, GO": the suite's tests
# move ships from the start. The countdown's own tests set it.
MATCH_COUNTDOWN_SECONDS = 0.0
