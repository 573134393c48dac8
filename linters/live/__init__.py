"""Live mode: replay the migrations on a real PostgreSQL and compare with the models.

One job per module:
  scratch.py      a throwaway database on the server of --database-url, dropped after
  cluster.py      --live: a throwaway PostgreSQL cluster (initdb + pg_ctl) on a free port
  plan.py         which revisions to apply, in Alembic's order, as parsed SQL statements
  apply.py        execute statements in the transactions Alembic would use
  trace.py        pg_locks / relfilenode / invalid indexes after each statement, vs the lock model
  catalog.py      schema snapshots from the catalog, and their differences
  roundtrip.py    upgrade -> downgrade -> upgrade of every new revision
  target_metadata.py  env.py's target_metadata and autogenerate options, read statically
  models.py       the user's SQLAlchemy models, loaded in a sandboxed child (models_child.py)
  online_child.py a base revision that renders only online, applied through Alembic in a child
  sandbox.py      run those children in the renderer's sandbox, one request, one reply
  proxy.py        a Unix-socket door to the scratch database for the children (they have no network)
  mapped.py       drop-mapped-column: static, whenever the models can be loaded
  drift.py        the models vs the database at head, with alembic's compare_metadata
  findings.py     Finding construction from the rule registry (rules/live_rules.py)
  review.py       the one entry point the engine calls

This file stays import-free: the sandboxed child imports linters.live.models_child.
"""
