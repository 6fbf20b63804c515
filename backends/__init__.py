"""Scheduler adapters (SLURM, local processes, Kubernetes) and the command runners they use."""

from monitor.quiet import quiet_dependencies

quiet_dependencies()  # before any backend imports asyncssh or the kubernetes client
