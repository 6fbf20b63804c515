"""Command runners: run an argv on the cluster, locally or over one reused SSH connection."""
