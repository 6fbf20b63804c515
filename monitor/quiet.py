"""Dependencies' deprecation notices, silenced before the libraries that raise them are imported.

A library's notice that one of *its* dependencies deprecated something (asyncssh's use of DSA under
cryptography 51, say) is for that library's authors: a user of jobdeck can do nothing about it, yet it
would be printed before a command's own output. The console script sets the filters first thing, and
so does the `backends` package, which imports those libraries (asyncssh, the kubernetes client), for
whoever imports it: a benchmark, the screenshots, a test. jobdeck's own warnings still show, and `-W` or `PYTHONWARNINGS`
still decide when given.
"""

from __future__ import annotations

import sys
import warnings

_NOT_OURS = r"(?!(monitor|backends|store|tui)(\.|$))"  # any module outside jobdeck's four packages


def quiet_dependencies() -> None:
    """Ignore deprecation warnings attributed to modules outside jobdeck (by category and module)."""
    if sys.warnoptions:
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=_NOT_OURS)
    # cryptography's CryptographyDeprecationWarning is a UserWarning subclass, known by its text.
    warnings.filterwarnings("ignore", message=".*deprecated", category=UserWarning, module=_NOT_OURS)
