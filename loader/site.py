"""How the site is served, declared once for `make serve`, the benchmarks and the tests.

`python -m loader.site DB [--host H] [--port P]` serves the database with the
project's metadata, plugins, templates, static files and settings, and picks
up a rebuilt file without dropping a request:

- A build never writes to the served file: it renames a finished, checked file
  over it (see `loader.build`). So the file at the path is always whole, but a
  server that opened the path lazily, one connection per thread, could answer
  one request from the old file and the next from the new one.
- So each server process pins one version: at start it hard-links the file into
  a private folder beside it and opens only that link. Every query and the
  download of one process see the same bytes however often the path is replaced.
- A supervisor holds the listening socket and runs one server process on it.
  When the file at the path changes, it starts a second process, waits until
  that one has opened the new version, has the first stop accepting (it still
  finishes the requests it has), and only then lets the second accept.
  Connections arriving in between wait in the socket's queue. So no request
  fails, and no reader sees the new version and then the old one again.

- However the supervisor stops, its servers stop too: each watches its stdin,
  whose only writer is the supervisor, and shuts down gracefully at its end
  (SIGKILL included). A file that `loader.health` finds unusable is never served.

`--no-reload` runs one server process with no supervisor (what the benchmarks
measure). The tests build the same site in-process with `datasette_instance()`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from .health import unusable
from .limits import limit_malloc_arenas, limit_sqlite_heap

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
PLUGINS = ROOT / "plugins"
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
SETTINGS = ROOT / "settings.json"
POLL_SECONDS = 1.0  # how often the supervisor looks at the file
START_TIMEOUT = 300.0  # seconds a new server process may take to become ready
ACCEPTED_GRACE_SECONDS = 0.5  # see serve_pinned


class ServeError(Exception):
    """A server process that could not start; the message is one line."""


def settings() -> dict[str, Any]:
    return json.loads(SETTINGS.read_text(encoding="utf-8"))


def serve_command(db: Path, host: str = "127.0.0.1", port: int = 8001, *, reload: bool = True) -> list[str]:
    """The command `make serve` runs (with `reload=False`: one server process, no supervisor)."""
    command = [sys.executable, "-m", "loader.site", str(Path(db).resolve()), "--host", host, "--port", str(port)]
    return command if reload else command + ["--no-reload"]


def datasette_instance(db: Path, plugin_config: dict[str, dict] | None = None, **changed_settings: Any):
    """The site, in-process: read-only and immutable, with every part of the project (and, for a test,
    some plugins' configuration or some of `settings.json` changed)."""
    from datasette.app import Datasette

    metadata = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    metadata["plugins"] = {**metadata.get("plugins", {}), **(plugin_config or {})}
    return Datasette(
        immutables=[str(db)],
        metadata=metadata,
        plugins_dir=str(PLUGINS),
        template_dir=str(TEMPLATES),
        static_mounts=[("static", str(STATIC))],
        settings={**settings(), **changed_settings},
    )


# ----------------------------------------------------------------------------- one server process
# A server process started by the supervisor talks to it in lines: it says READY once it has
# opened its version, starts accepting when told GO, and says CLOSED once it stopped accepting.
READY, GO, CLOSED = b"ready\n", b"go\n", b"closed\n"


def serve_pinned(db: Path, listener: socket.socket, *, supervised: bool) -> None:
    """Serve the version of `db` there is now on `listener` until SIGTERM or SIGINT."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):
            for server in self.servers:  # uvicorn's own first step, done here so CLOSED is true
                server.close()
            if supervised:
                tell_supervisor(CLOSED)
            # A connection accepted just before the close has not been read yet, and uvicorn
            # closes unread connections at once: its request would meet a reset. Let it be read.
            await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
            await super().shutdown(sockets)

    folder, pinned = pin(db)
    try:
        refuse_unusable(pinned, shown_as=db)
        limit_malloc_arenas()
        limit_sqlite_heap()
        site = datasette_instance(pinned)
        config = uvicorn.Config(site.app(), log_level="warning", lifespan="on", timeout_graceful_shutdown=30)
        asyncio.run(_serve(site, Server(config), listener, supervised))
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def pin(db: Path) -> tuple[Path | None, Path]:
    """A hard link to the file at `db` now, in a private folder beside it, under the same name (so
    the database is still /papers and downloads as papers.db); the path itself where that fails."""
    folder = None
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{db.name}.serving-{os.getpid()}-", dir=db.parent))
        os.link(db, folder / db.name)
        return folder, folder / db.name
    except OSError as error:  # a read-only folder, a file system without hard links
        print(f"warning: cannot pin {db} ({error}); a rebuild may show in the middle of a page", file=sys.stderr)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return None, db


async def _serve(site, server, listener: socket.socket, supervised: bool) -> None:
    from plugins.facet_counts import count_default_facets

    await site.invoke_startup()
    for database in site.databases.values():  # open the pinned file now, not on the first request
        await database.execute_fn(lambda conn: conn.execute("select count(*) from sqlite_master").fetchone())
    if supervised:
        tell_supervisor(READY)
        told = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.readline)
        if told != GO:  # the supervisor is gone
            return
        stop_when_orphaned(server)
    counting = asyncio.create_task(count_default_facets(site))  # held here: a task nobody holds can vanish
    await server.serve(sockets=[listener])
    counting.cancel()


def tell_supervisor(message: bytes) -> None:
    try:
        os.write(sys.stdout.fileno(), message)
    except BrokenPipeError:  # it is gone; stop_when_orphaned (or the missing GO) ends this process
        pass


def stop_when_orphaned(server) -> None:
    """Shut down gracefully once the supervisor is gone, however it went (SIGKILL included).

    The supervisor holds the only writing end of this process's stdin, so the
    kernel closes it when the supervisor dies, and reading stdin ends. Without
    this a server in its own session would outlive its supervisor, keep the
    port and serve an old version with nobody watching the file.
    """

    def watch() -> None:
        # The supervisor writes nothing after GO: this returns at its end. (Not sys.stdin: a daemon
        # thread blocked in a buffered read holds its lock, and interpreter exit waits for it.)
        while os.read(sys.stdin.fileno(), 4096):
            pass
        server.should_exit = True

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def refuse_unusable(db: Path, shown_as: Path | None = None) -> None:
    """Never serve an empty, truncated, foreign or too-new file as if it were the site (see `loader.health`)."""
    problem = unusable(db)
    if problem is not None:
        shown = shown_as or db
        raise ServeError(f"{shown}: {problem.reason}; rebuild it with `papers-db build --db {shown}` (or `make build`)")


def remove_stale_pins(db: Path) -> None:
    """Pin folders left by server processes that were killed: each holds a whole old version."""
    for folder in db.parent.glob(f".{db.name}.serving-*-*"):
        pid = folder.name[len(f".{db.name}.serving-") :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- the supervisor


def version(db: Path) -> tuple[int, ...] | None:
    """What tells one file at the path from the next: a rename brings a new inode."""
    try:
        stat = db.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def start_server(db: Path, listener: socket.socket) -> subprocess.Popen:
    """A server process on the shared socket, returned once it has opened its version (not yet accepting)."""
    fd = listener.fileno()
    process = subprocess.Popen(
        [sys.executable, "-m", "loader.site", str(db), "--fd", str(fd)],
        pass_fds=[fd],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,  # unbuffered, so select() on the pipe and readline() agree
        start_new_session=True,  # Ctrl-C reaches the supervisor, which stops the server in order
    )
    if _read_line(process, START_TIMEOUT) != READY:
        stop_server(process)
        raise ServeError(f"a server process for {db} did not start (exit code {process.returncode})")
    return process


def release(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.write(GO)
    process.stdin.flush()


def retire(process: subprocess.Popen) -> None:
    """Have a server stop accepting; it finishes its requests and exits on its own."""
    process.terminate()
    _read_line(process, 10.0)  # CLOSED, or nothing if it died


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM and wait: uvicorn stops accepting and finishes the requests it has."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_line(process: subprocess.Popen, timeout: float) -> bytes:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else b""


def listen(host: str, port: int) -> socket.socket:
    """The listening TCP socket, made with its protocol named: asyncio sets TCP_NODELAY only on
    connections of a socket whose `proto` is TCP, and without it small responses wait for the
    client's delayed ACK (40 ms a request on loopback)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(1024)
    return listener


# Signals that stop the supervisor. It blocks them and takes them with sigtimedwait while it
# waits between looks at the file, so one never lands halfway through starting or stopping a
# server, and a second one during the stop waits, unheeded, until the servers are stopped.
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def supervise(db: Path, host: str, port: int) -> int:
    refuse_unusable(db)  # in one line, before a server process would say it too
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    listener = listen(host, port)
    listener.set_inheritable(True)
    remove_stale_pins(db)
    current_version = version(db)
    current = start_server(db, listener)
    release(current)
    retiring: list[subprocess.Popen] = []
    print(f"Serving {db} at http://{host}:{port}/ (reloads when the file is rebuilt)", file=sys.stderr, flush=True)
    try:
        while current.poll() is None:
            stop = signal.sigtimedwait(STOP_SIGNALS, POLL_SECONDS)
            if stop is not None:
                return 128 + stop.si_signo
            retiring = [process for process in retiring if process.poll() is None]
            seen = version(db)
            if seen is None or seen == current_version:
                continue
            current_version = seen
            try:
                replacement = start_server(db, listener)
            except ServeError as error:
                print(f"reload failed, still serving the previous version: {error}", file=sys.stderr, flush=True)
                continue
            retire(current)
            release(replacement)
            retiring.append(current)
            current = replacement
            print(f"reloaded {db}", file=sys.stderr, flush=True)
        return current.returncode or 0
    finally:
        for process in [*retiring, current]:
            stop_server(process)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m loader.site", description="Serve the papers database.")
    parser.add_argument("db", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--no-reload", action="store_true", help="one server process; no reload on rebuild")
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a server process started by the supervisor
    args = parser.parse_args(argv)
    if not args.db.is_file():
        parser.error(f"{args.db}: no such database file (make build creates it)")
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a server process inherits its supervisor's mask
    try:
        if args.fd is not None:
            serve_pinned(args.db, socket.socket(fileno=args.fd), supervised=True)
            return 0
        if args.no_reload:
            remove_stale_pins(args.db)
            serve_pinned(args.db, listen(args.host, args.port), supervised=False)
            return 0
        return supervise(args.db, args.host, args.port)
    except (ServeError, OSError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
