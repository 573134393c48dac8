import sys

from linters.cli import console_main, subcommand
from linters.render_process import prestart_for

if subcommand(sys.argv[1:]) is None:
    prestart_for(sys.argv[1:])  # before anything heavier: the child's import of alembic is the longest step of a PR check

sys.exit(console_main())
