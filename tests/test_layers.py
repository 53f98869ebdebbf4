"""The import rules of the layers of `games/`, read from the source's AST.

Each package's docstring states what it may import; this test fails when a module
imports a layer it must not. A new exception needs a reason, written next to it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GAMES = Path(__file__).resolve().parent.parent / "games"

# Outside code that only some layers may use.
FRAMEWORKS = ("django", "channels", "asgiref", "daphne", "asyncio", "redis")
CHANNEL_LAYER = ("channels", "asgiref")

# (modules the rule applies to, imports they must not make, modules exempt and why)
RULES: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
    # The engine is pure: synchronous, Django-free, knowing nothing of the rest of games.
    ("games.engine", (*FRAMEWORKS, "games"), {}),
    # The operators' console and the HTTP API see the live side only through the
    # service layer and the shared state of games.cluster.
    ("games.views", ("games.runtime", "games.sockets"), {}),
    ("games.admin", ("games.runtime", "games.sockets"), {}),
    # Shared state knows nothing of matches' rules, the database or sockets.
    (
        "games.cluster",
        ("games.models", "games.services", "games.runtime", "games.sockets", "games.matchmaking"),
        {},
    ),
    # The service layer is synchronous Django; one module sends to the sockets.
    (
        "games.services",
        (*CHANNEL_LAYER, "games.runtime", "games.sockets", "games.matchmaking", "games.cluster"),
        {
            "games.services.announce": "the one door from sync Django to the sockets",
        },
    ),
    # ...and that module takes only the names of groups and channels from the runtime.
    (
        "games.services.announce",
        (
            "games.runtime.match",
            "games.runtime.process",
            "games.runtime.runners",
            "games.runtime.routing",
        ),
        {},
    ),
    # The runtime reaches a socket through the fan-out's Socket protocol, never a consumer.
    ("games.runtime", ("games.sockets",), {}),
    # The runtime reaches the ORM and calls services only through the runner's store,
    # on the sync thread (service errors and result types are plain values).
    (
        "games.runtime",
        (
            "games.models",
            "games.services.players",
            "games.services.seating",
            "games.services.queueing",
            "games.services.lifecycle",
            "games.services.announce",
        ),
        {"games.runtime.match.store": "the runner's store: async calls over services"},
    ),
    (
        "games.runtime",
        ("games.matchmaking",),
        {"games.runtime.process": "the process wires its matcher (Matchmaker) once"},
    ),
    # The queue is shared by every process; it tells sockets through the channel layer.
    (
        "games.matchmaking",
        (
            "games.sockets",
            "games.runtime.process",
            "games.runtime.runners",
            "games.runtime.routing",
            "games.runtime.match",
        ),
        {},
    ),
    # The process wires its parts; the parts never reach back for it. The runner
    # registry hands a new runner to the routing through a callback it is given.
    ("games.runtime.runners", ("games.runtime.process", "games.runtime.routing"), {}),
    ("games.runtime.routing", ("games.runtime.process",), {}),
    # No part of the runtime but the process wires the registry or the routing.
    *[
        (f"games.runtime.{part}", ("games.runtime.runners", "games.runtime.routing"), {})
        for part in ("match", "fanout", "lobby_feed", "messages", "cleanup", "metrics")
    ],
    # Consumers reach the database only through access checks and services.
    ("games.sockets", ("games.models", "games.views", "games.admin"), {}),
    # The parts of a match runner are synchronous and do no I/O: the runner awaits.
    *[
        (
            f"games.runtime.match.{part}",
            (*FRAMEWORKS, "games.cluster", "games.services", "games.runtime.fanout"),
            {},
        )
        for part in ("roster", "encoder", "checkpointing", "schedule", "ops", "inputs", "bots")
    ],
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in GAMES.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(GAMES.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions and TYPE_CHECKING too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            # `from games import services` imports the module games.services
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations() -> list[str]:
    found = []
    for module, path in sorted(MODULES.items()):
        imported = imports_of(path)
        for layer, forbidden, exempt in RULES:
            if not _within(module, layer) or module in exempt:
                continue
            for name in sorted(imported):
                if _within(name, layer) and layer.startswith("games.engine"):
                    continue  # the engine may import itself
                if any(_within(name, bad) for bad in forbidden):
                    found.append(f"{module} imports {name} (rule for {layer})")
    return found


def test_no_layer_imports_one_it_must_not():
    assert violations() == []


# Redis or memory is chosen once, by games.cluster.shared(); elsewhere the code asks the
# pieces it picked (or shared().is_local). The fan-out reads the URL only to connect.
REDIS_URL_READERS = {"games.runtime.fanout": "its pub/sub connection's address"}


def asks_for_redis(path: Path) -> list[str]:
    """Where a file reads settings.REDIS_URL or calls a Redis-or-memory `enabled()`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "REDIS_URL":
            found.append(f"{path.name}:{node.lineno} reads REDIS_URL")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "enabled"
        ):
            found.append(f"{path.name}:{node.lineno} calls enabled()")
    return found


def test_only_the_cluster_asks_whether_redis_is_configured():
    found = [
        problem
        for module, path in sorted(MODULES.items())
        if not _within(module, "games.cluster") and module not in REDIS_URL_READERS
        for problem in asks_for_redis(path)
    ]
    assert found == []


def test_the_walk_sees_imports_of_every_form():
    # A walk that saw nothing would pass the rules above vacuously.
    assert "games.services" in imports_of(MODULES["games.views"])  # from games import services
    assert "games.cluster.tickets" in imports_of(MODULES["games.views"])  # a package's module
    assert "games.runtime.messages" in imports_of(MODULES["games.services.announce"])
    assert asks_for_redis(MODULES["games.cluster"])  # the one place that does


@pytest.mark.parametrize(
    "package",
    [
        "cluster",
        "services",
        "matchmaking",
        "sockets",
        "runtime",
        "runtime.match",
        "runtime.process",
        "runtime.runners",
        "runtime.routing",
    ],
)
def test_each_package_says_what_it_may_import(package):
    doc = ast.get_docstring(ast.parse(MODULES[f"games.{package}"].read_text())) or ""
    assert "May import" in doc or "import rules" in doc
