"""The Kubernetes tests' fixtures: the emulator's (k8s_support.py), for faults a real API server
cannot be made to show, and the real control plane's (control_plane.py), for everything else."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from control_plane import admin, plane, real_engine, session  # noqa: F401
from k8s_support import apiserver, backend, engine, kubeconfig, tls_apiserver  # noqa: F401
