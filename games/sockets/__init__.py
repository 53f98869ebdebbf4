"""Channels consumers: decode and validate a frame, make one call, send.

The WebSocket counterpart of views.py.

- `base`: GameSocketConsumer (the receive loop, dispatch, a socket's lifetime, strikes)
  and the middleware in front of every socket (session, user, 4013 when a service
  is unreachable during the handshake, 4404 for unknown paths).
- `match`: MatchConsumer, the match socket.
- `lobby`: LobbyConsumer, the lobby socket (lobby feed, presence, the queue).
- `limits`: token buckets, per-address and per-user socket caps, the send backlog.

May import: `games.runtime`, `games.access`, `games.protocol`, `games.cluster`,
`games.services` (its errors, and the calls a socket makes), `games.engine`.
Must not import: `games.models` other than through `games.access`, `games.views`,
`games.admin`.
"""
