"""The Kubernetes backend: batch/v1 Jobs (Indexed Jobs for arrays) through the official client, in a
thread pool of its own with a timeout on every call."""
