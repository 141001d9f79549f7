"""The step definitions (Japanese). Load them into a pytest-bdd suite with

    from egov_harness.steps import *  # noqa: F403

or `-p egov_harness.steps`. Each module covers one feature area: login and GビズID, tokens,
procedure skeletons, submission, status, notices, official documents, withdrawal, 補正/再提出, bulk
sending, payment, and on simulators the clock, the agency's side (cases), maintenance and faults.
"""

from .amendment import *  # noqa: F403
from .browser import *  # noqa: F403
from .bulk import *  # noqa: F403
from .cases import *  # noqa: F403
from .clock import *  # noqa: F403
from .common import *  # noqa: F403
from .documents import *  # noqa: F403
from .faults import *  # noqa: F403
from .gbizid import *  # noqa: F403
from .keieikakushin import *  # noqa: F403
from .legacy import *  # noqa: F403
from .login import *  # noqa: F403
from .maintenance import *  # noqa: F403
from .notices import *  # noqa: F403
from .payment import *  # noqa: F403
from .procedure import *  # noqa: F403
from .status import *  # noqa: F403
from .submission import *  # noqa: F403
from .withdrawal import *  # noqa: F403
