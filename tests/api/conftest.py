"""The API tests share the users and the decision builder of the dashboard
tests."""

from tests.dashboard.conftest import (  # noqa: F401
    approver,
    make_decision,
    risk_levels,
    superuser,
    viewer,
)
