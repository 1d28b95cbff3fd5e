"""Export and erasure on the in-memory database (privacy_cases.py; on SQLite and
PostgreSQL: tests/integration/test_members_privacy.py)."""
import pytest


from .privacy_cases import *  # noqa: F401,F403 (the scenarios, collected here)


pytestmark = pytest.mark.usefixtures("quick_password_hashing")


def test_every_event_with_personal_fields_names_whose_they_are():
    """Else its personal fields would be stored in clear, out of reach of an erasure."""
    import mailer.events  # noqa: F401
    import members.events  # noqa: F401
    from umpnet_kernel.shredding import unsealable_classes

    assert unsealable_classes() == []
