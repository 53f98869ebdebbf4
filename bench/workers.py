"""The load generator's processes, in Python (bench/loadgen.py) or Node.js (bench/node/).

`bench/load.py` drives both the same way through `spawn_worker`: send the
plan, wait for "ready" (a `ReadyReport`), send the measuring window, wait for
"result" (a `WorkerResult`), send "close", wait for "closed". The Python
generator is a multiprocessing child on a pipe; the Node.js one is a `node`
child speaking JSON lines on its stdin and stdout, with the same players and
measurement definitions (bench/node/loadgen.mjs says how). Both inherit the
benchmark's CPU affinity, so they run on the generator's cores.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import asdict
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from queue import Empty, Queue
from typing import Any, Protocol

from bench.loadgen import ReadyReport, WorkerPlan, WorkerResult, run_worker

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_SCRIPT = NODE_DIR / "loadgen.mjs"
GENERATORS = ("node", "python")
# Players past which a step gets another generator process. One Python process (websockets
# and uvloop) runs out of its core at about 1,000 players; Node's event loop is cheaper, and
# more processes on the same core would only add their own overhead.
PLAYERS_PER_WORKER = {"python": 400, "node": 4000}


class Worker(Protocol):
    """One generator process, whichever language it is written in."""

    @property
    def pid(self) -> int | None: ...

    def send(self, command: tuple[Any, ...]) -> None: ...

    def receive(self, expected: str, timeout: float) -> Any: ...

    def stop(self) -> None: ...


def spawn_worker(generator: str, plan: WorkerPlan) -> Worker:
    if generator == "node":
        return NodeWorker(plan)
    if generator == "python":
        return PythonWorker(plan)
    raise ValueError(f"unknown generator {generator!r}")


def check_node() -> str:
    """The `node` executable, once `npm ci` has installed the generator's dependencies."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("--generator node needs Node.js (18 or later) on the PATH")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        raise RuntimeError(f"--generator node: run `npm ci` in {NODE_DIR.name}/ first")
    return node


def node_versions() -> str:
    """Node's version and the ws package's, as installed for the generator."""
    node = check_node()
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    ws = json.loads((NODE_DIR / "node_modules" / "ws" / "package.json").read_text())
    return f"node {version.stdout.strip().lstrip('v')}, ws {ws['version']}"


class PythonWorker:
    def __init__(self, plan: WorkerPlan) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=run_worker, args=(plan, theirs), daemon=True
        )
        self.process.start()
        theirs.close()
        self.conn: Connection = ours

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, command: tuple[Any, ...]) -> None:
        self.conn.send(command)

    def receive(self, expected: str, timeout: float) -> Any:
        if not self.conn.poll(timeout):
            raise TimeoutError(f"generator pid {self.pid} sent no {expected!r} in {timeout} s")
        kind, *payload = self.conn.recv()
        if kind != expected:
            raise RuntimeError(f"generator pid {self.pid} sent {kind!r}, not {expected!r}")
        return payload[0] if payload else None

    def stop(self) -> None:
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class NodeWorker:
    def __init__(self, plan: WorkerPlan) -> None:
        self.process = subprocess.Popen(
            [check_node(), str(NODE_SCRIPT)],
            cwd=NODE_DIR,
            # Node reads the extra CA at start-up: a proxy's test certificate for wss:// URLs.
            env={**os.environ, "NODE_EXTRA_CA_CERTS": plan.ca_file} if plan.ca_file else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # A reader thread turns stdout into messages, so that a receive can time out.
        self.messages: Queue[dict[str, Any] | None] = Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._write(plan_to_json(plan))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith('{"kind":'):
                self.messages.put(json.loads(line))
            else:  # node's own output (a --trace-gc, a warning): not a message
                sys.stderr.write(line)
        self.messages.put(None)

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def send(self, command: tuple[Any, ...]) -> None:
        if command[0] == "measure":
            _, start, end, stop_at = command
            self._write({"command": "measure", "start": start, "end": end, "stop_at": stop_at})
        else:
            self._write({"command": command[0]})

    def receive(self, expected: str, timeout: float) -> Any:
        try:
            message = self.messages.get(timeout=timeout)
        except Empty:
            raise TimeoutError(
                f"node generator pid {self.pid} sent no {expected!r} in {timeout} s"
            ) from None
        if message is None:
            raise RuntimeError(
                f"node generator pid {self.pid} exited ({self.process.wait()}) "
                f"before {expected!r}; its stderr says why"
            )
        if message["kind"] != expected:
            raise RuntimeError(f"node generator sent {message['kind']!r}, not {expected!r}")
        return _from_node(expected, message["payload"])

    def stop(self) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def plan_to_json(plan: WorkerPlan) -> dict[str, Any]:
    data = asdict(plan)
    data.pop("cpus")  # the child inherits the benchmark's affinity
    data.pop("ca_file")  # given to node in its environment
    return data


def _from_node(kind: str, payload: Any) -> Any:
    if kind == "ready":
        return ReadyReport(payload["players"], payload["active"], Counter(payload["failures"]))
    if kind == "result":
        closes = Counter({int(code): count for code, count in payload.pop("closes").items()})
        errors = Counter(payload.pop("errors"))
        return WorkerResult(**payload, errors=errors, closes=closes)
    return payload
