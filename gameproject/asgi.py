"""ASGI entry point: HTTP and WebSocket from one server process.

daphne gameproject.asgi:application          (the default, documented first)
uvicorn gameproject.asgi:application --lifespan on ...   (see docs/deploy.md)
"""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameproject.settings")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from gameproject.lifespan import lifespan  # noqa: E402
from games.routing import websocket_urlpatterns  # noqa: E402
from games.sockets.base import SocketAuthMiddlewareStack  # noqa: E402

# Under daphne (its command line, or its runserver). Not "is Twisted's reactor
# imported": the daphne app in INSTALLED_APPS imports daphne.server, which installs
# a reactor, under any server. uvicorn has its start-up in gameproject/lifespan.py.
UNDER_DAPHNE = "daphne.cli" in sys.modules or "daphne.management.commands.runserver" in sys.modules

if UNDER_DAPHNE:
    # Hand matches over on SIGTERM instead of dropping them.
    from games.runtime.drain import install_for_daphne

    install_for_daphne()

    # autobahn (daphne's WebSocket implementation) builds the arguments of a debug
    # log line for every frame it reads or writes, even with debug logging off, and
    # colours them with click when click is importable: 8 us per frame instead of 3,
    # about a tenth of a loaded process. Nothing here logs at debug level through
    # autobahn, so the colours are switched off.
    import autobahn.util

    autobahn.util._HAS_CLICK = False

    from django.conf import settings

    if settings.METRICS_PORT:
        from games.runtime import metrics

        metrics.serve(settings.METRICS_PORT, settings.METRICS_ADDRESS)

# Tick loops share this process's one thread with every socket: a full garbage
# collection that walks every object stalls all of them at once (tens of ms with
# a loaded process). What exists after start-up lives as long as the process,
# so it is frozen out of the collector's scans, and the youngest generation is
# collected less often (each message allocates a few short-lived dicts).
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 20, 20)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin first: a handshake from a foreign page is refused before the
        # session cookie it carries is even looked at (cross-site WebSocket hijacking).
        "websocket": AllowedHostsOriginValidator(
            SocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # uvicorn only (daphne sends no lifespan events): SIGTERM drains, metrics start.
        "lifespan": lifespan,
    }
)
