import sys

from linters.render_process import prestart_for

prestart_for(sys.argv[1:])  # first thing: the render child's import of alembic is the longest step of a PR check

from linters.cli import console_main  # noqa: E402

sys.exit(console_main())
