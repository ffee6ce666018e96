"""Shared test set-up: the helper modules beside this file (toy.py, tiny_models.py, clip_helpers.py,
dinov2_helpers.py, report_helpers.py) are importable from every test folder.

Layout: tests/unit/<package>/ mirrors pytest_genquality/<package>/, tests/plugin/ holds the
end-to-end tests that run pytest itself (pytester), tests/parity/ the comparisons with peer
libraries.
"""

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
