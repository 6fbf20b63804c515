"""The Kubernetes tests' fixtures, defined in k8s_support.py beside the helpers the tests import."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from k8s_support import apiserver, backend, engine, kubeconfig, tls_apiserver  # noqa: F401
