"""The step definitions (Japanese). Load them into a pytest-bdd suite with

    from egov_client.bdd.steps import *  # noqa: F403

or `-p egov_client.bdd.steps`. Each module covers one feature area; new areas (notices,
official documents, withdrawal, amendment, bulk, payment, maintenance, faults, GビズID) are added
as new modules here and re-exported below, without changing the existing ones.
"""

from .browser import *  # noqa: F403
from .clock import *  # noqa: F403
from .common import *  # noqa: F403
from .login import *  # noqa: F403
from .procedure import *  # noqa: F403
from .status import *  # noqa: F403
from .submission import *  # noqa: F403
