"""Entry point of the ``avrec`` command: dispatches to one module per subcommand.

Subcommands are imported lazily so that ``avrec plugins`` stays fast and
works even when torch-heavy extras are missing.
"""

from __future__ import annotations

import importlib
import logging
import sys

from avrec.errors import AvrecError

COMMANDS = {
    "train": ("avrec.cli.train", "Train and evaluate a model; Hydra overrides follow, -m for a sweep."),
    "evaluate": ("avrec.cli.evaluate", "Re-evaluate a saved run directory."),
    "recommend": ("avrec.cli.recommend", "Print the top-k items for a user of a saved run."),
    "search": ("avrec.cli.search", "Print the items that best match a free-text query."),
    "simulate": ("avrec.cli.simulate", "Run an online bandit simulation and off-policy evaluation."),
    "report": ("avrec.cli.report", "Summarise a multirun sweep as tables and plots."),
    "data": ("avrec.cli.data", "Fetch or validate a dataset."),
    "plugins": ("avrec.cli.listing", "List installed plugins and their components."),
    "components": ("avrec.cli.listing", "List registered components, optionally of one kind."),
}

USAGE = "usage: avrec COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(
    f"  {name:<11} {summary}" for name, (_, summary) in COMMANDS.items()
)


def main(argv: list[str] | None = None) -> int:
    """Run one ``avrec`` subcommand and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from avrec.errors import suggest

        print(f"avrec: unknown command '{command}'.{suggest(command, COMMANDS)}\n\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        module = importlib.import_module(COMMANDS[command][0])
        return int(module.run(command, rest) or 0)
    except AvrecError as error:
        print(f"avrec {command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
