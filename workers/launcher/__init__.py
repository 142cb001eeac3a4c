"""The parts of ``healthplat`` (the command itself is workers/launch.py), one concern each.

- ``preflight``: every setting of the launch checked before anything starts;
- ``data_dir``: DATA_DIR and the lock that keeps a second launcher off it;
- ``kept_secrets``: the secrets kept in DATA_DIR for settings left unset;
- ``services``: the embedded PostgreSQL and Redis (ports, a stale Redis, stopping);
- ``migrations``: ``alembic upgrade head`` with the launcher's output;
- ``processes``: the processes' environment, the Procfile's choice, the exports;
- ``supervisor``: running, restarting and stopping the processes;
- ``console`` and ``signals``: the launcher's own lines, and the signals it latches.
"""
