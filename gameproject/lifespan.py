"""The ASGI lifespan protocol, which uvicorn speaks and daphne does not.

At start-up under uvicorn: SIGTERM drains the process first (games/runtime/drain.py),
and the metrics endpoint starts when METRICS_PORT is set — what asgi.py does for
daphne when it sees daphne's reactor.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


async def lifespan(scope: Any, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                start()
            except Exception as exc:
                logger.exception("start-up failed")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def start() -> None:
    from games.runtime.drain import install_for_uvicorn

    install_for_uvicorn()
    if settings.METRICS_PORT:
        from games.runtime import metrics

        metrics.serve(settings.METRICS_PORT, settings.METRICS_ADDRESS)
