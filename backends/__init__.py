"""Scheduler adapters (SLURM, local processes, Kubernetes) and the command runners they use."""
