"""The run contract: submit, follow, cancel, re-run and read back any template run.

`store` records what a run was (template, IR, parameters, config and data hashes) and is (its
state and stages); `local` runs it in its own process group on this machine; `status` turns the
record into what `status RUN --json` prints; `service` is the one interface the CLI calls.
"""
