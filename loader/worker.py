"""Run a generator in a second process and consume its items here, so a build uses two cores.

The two talk through a pipe of pickles: the pipe's buffer bounds how far the
producer runs ahead, so memory stays flat. An exception in the producer is
raised here; a producer that dies without one is reported, not waited for.
A plain child process (`python -m loader.worker`) rather than
`multiprocessing`, whose spawn start re-runs the caller's main script.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # so the child imports this very `loader`


class WorkerDied(Exception):
    """The producing process ended without finishing or raising."""


def in_worker(function: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    """Yield what `function(*args)` yields, computed in a child process (`function` must be importable)."""
    path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "loader.worker"]
    # Each worker is one of a build's processes a core: the tokenizer's own threads would only
    # contend with the others, and their memory arenas cost each worker some 20 MB.
    env = {**os.environ, "PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false"}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            pickle.dump((function.__module__, function.__qualname__, args), child.stdin)
            child.stdin.close()
            while True:
                try:
                    kind, value = pickle.load(child.stdout)
                except (EOFError, pickle.UnpicklingError):  # nothing more, or cut off mid-item
                    raise WorkerDied(f"the parsing process stopped (exit code {child.wait()})") from None
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            if child.poll() is None:
                child.kill()


def main() -> None:
    """The child's side: read what to run from stdin, write ("item" | "error" | "end", value) pickles to stdout."""
    module, name, args = pickle.load(sys.stdin.buffer)
    function = getattr(importlib.import_module(module), name)
    out = sys.stdout.buffer
    try:
        for item in function(*args):
            pickle.dump(("item", item), out, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # handed to the consumer, which raises it
        pickle.dump(("error", _picklable(error)), out)
    else:
        pickle.dump(("end", None), out)
    out.flush()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


if __name__ == "__main__":
    main()
