"""Graceful drain of a server process on SIGTERM, for deploys and rolling restarts.

daphne's own SIGTERM handling stops the reactor and cancels every connection
without a close frame or `disconnect()`; uvicorn's closes every WebSocket with
1012 before anything could hand the matches over. Instead, this process first
hands its matches over (final checkpoint, lease released, so another process
adopts them at once), closes its sockets with 4012 so clients reconnect, and
then lets the server stop as it would have. The drain is bounded by DRAIN_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.conf import settings

from games.protocol import CloseCode
from games.runtime.process import get_runtime

logger = logging.getLogger(__name__)


def install_for_daphne() -> None:
    """Take over SIGTERM once daphne's reactor runs (it installs its own handler first)."""
    from twisted.internet import reactor

    reactor.callWhenRunning(_install, reactor)


def _install(reactor: Any) -> None:
    loop = asyncio.get_event_loop()

    def on_sigterm(signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(_drain_then_stop(reactor)))

    signal.signal(signal.SIGTERM, on_sigterm)


def install_for_uvicorn() -> None:
    """Take over SIGTERM from uvicorn: drain, then hand the signal to uvicorn's handler.

    Called at lifespan start-up, when uvicorn's own handler is installed (it
    installs it before start-up and restores the one before it at exit). A second
    SIGTERM while draining goes to uvicorn at once.
    """
    loop = asyncio.get_running_loop()
    uvicorn_handler = signal.getsignal(signal.SIGTERM)
    draining = False

    def stop(signum: int, frame: Any) -> None:
        if callable(uvicorn_handler):
            uvicorn_handler(signum, frame)

    async def drain_then_stop(signum: int, frame: Any) -> None:
        await _drain()
        stop(signum, frame)

    def on_sigterm(signum: int, frame: Any) -> None:
        nonlocal draining
        if draining:
            stop(signum, frame)
            return
        draining = True
        loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_stop(signum, frame)))

    signal.signal(signal.SIGTERM, on_sigterm)


async def _drain() -> None:
    logger.warning("SIGTERM: draining matches before shutdown")
    try:
        await asyncio.wait_for(get_runtime().drain(CloseCode.RESTARTING), settings.DRAIN_SECONDS)
    except Exception:
        logger.exception("drain did not finish cleanly; stopping anyway")


async def _drain_then_stop(reactor: Any) -> None:
    await _drain()
    reactor.stop()
