"""The game server's one Django app, whose packages are its layers.

At the root stay Django's own modules (models, admin, views, urls, apps, signals,
migrations, and routing with the WebSocket URL patterns) and the cross-cutting
ones: access (who may see or join what), protocol (everything on the wire),
payloads (JSON shapes built from models), jsonlimits (the size and depth limits
of incoming JSON, shared by protocol and the HTTP views, so it sits next to
protocol) and replays (a finished match's frames for the replay page, a payload
builder that reads models, so it stays with the HTTP side).

Packages: engine (pure rules), services (every write), cluster (shared state),
runtime (each process's event loop), sockets (the consumers), matchmaking (the
queue). Each package's docstring says what it may import; tests/test_layers.py
checks it.
"""
