"""The `nasbot-viz` command. Each group of subcommands lives in `nasbot_viz/commands/` and
registers itself; heavy imports (torch, panel) happen only inside the chosen handler."""

from __future__ import annotations

import argparse
import importlib
import sys

from nasbot_viz.errors import NasbotVizError

# Modules that define `register(subparsers)`; missing ones are skipped so the CLI grows by issue.
COMMAND_MODULES = (
    "nasbot_viz.commands.arch_commands",  # validate, distance
    "nasbot_viz.commands.run_commands",  # run, resume, info, export
    "nasbot_viz.commands.serve_command",  # serve
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2, no usage dump
        self.exit(2, f"nasbot-viz: {message} (see 'nasbot-viz {self.prog.split()[-1]} --help')\n"
                  if " " in self.prog else f"nasbot-viz: {message} (see 'nasbot-viz --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nasbot-viz", description="NASBOT architecture search and its explorer.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except NasbotVizError as err:
        print(f"nasbot-viz: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nasbot-viz: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        print(f"nasbot-viz: {err.strerror or err}: {getattr(err, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
