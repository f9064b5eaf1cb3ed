"""How the site is served, declared once for `make serve` and for the tests.

`python -m loader.site DB [--host H] [--port P]` runs `datasette serve` with
the project's metadata, plugins, templates, static files and settings; the
tests build the same instance in-process with `datasette_instance()`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
PLUGINS = ROOT / "plugins"
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
SETTINGS = ROOT / "settings.json"


def settings() -> dict[str, Any]:
    return json.loads(SETTINGS.read_text(encoding="utf-8"))


def serve_command(db: Path, host: str = "127.0.0.1", port: int = 8001) -> list[str]:
    """The `datasette serve` command line: read-only, immutable, with every part of the site."""
    command = [
        str(Path(sys.executable).parent / "datasette"),
        "serve",
        "--immutable",
        str(db),
        "--metadata",
        str(METADATA),
        "--plugins-dir",
        str(PLUGINS),
        "--template-dir",
        str(TEMPLATES),
        "--static",
        f"static:{STATIC}",
        "--host",
        host,
        "--port",
        str(port),
    ]
    for name, value in settings().items():
        command += ["--setting", name, str(value).lower() if isinstance(value, bool) else str(value)]
    return command


def datasette_instance(db: Path):
    """The same site as `serve_command`, in-process, for `datasette.client` tests."""
    from datasette.app import Datasette

    return Datasette(
        immutables=[str(db)],
        metadata=yaml.safe_load(METADATA.read_text(encoding="utf-8")),
        plugins_dir=str(PLUGINS),
        template_dir=str(TEMPLATES),
        static_mounts=[("static", str(STATIC))],
        settings=settings(),
    )


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the papers database with Datasette.")
    parser.add_argument("db", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    command = serve_command(args.db, args.host, args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
