"""The local-process backend: a tiny scheduler for this machine (`jobdeck demo`, tests without a cluster).

The backend lives in backends.local.backend; this package imports nothing so that every task's shim
starts quickly.
"""
