"""Every configuration object of an organisation: one `Kind` per sort, saved through the admin
API and `caseflow import`. Importing this package registers every kind."""

from caseflow.configuration import (  # noqa: F401  (importing registers their kinds)
    customers,
    goals,
    knowledge,
    scheduling,
    stages,
    work,
)
from caseflow.configuration.base import (
    ConfigError,
    ImportRefused,
    ImportReport,
    Kind,
    Problem,
    apply,
    export_organisation,
    import_organisation,
    kind_named,
    kinds,
    remove,
    rollout_targets,
)

__all__ = [
    "ConfigError",
    "ImportRefused",
    "ImportReport",
    "Kind",
    "Problem",
    "apply",
    "export_organisation",
    "import_organisation",
    "kind_named",
    "kinds",
    "remove",
    "rollout_targets",
]
