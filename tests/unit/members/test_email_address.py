"""Addresses are normalised once and compared as stored (issue 6, item 9)."""
import pytest

from members.domain.email_address import email_key, email_key_of, normalise_email
from umpnet_kernel.errors import ValidationFailed


@pytest.mark.parametrize("typed", ["\u212aate@example.org", "ｋａｔｅ@ｅｘａｍｐｌｅ.ｏｒｇ", " KATE@Example.org "])
def test_look_alikes_fold_into_the_address_they_pass_for(typed):
    assert email_key(normalise_email(typed)) == "kate@example.org"


@pytest.mark.parametrize("typed", ["k\u0430te@example.org", "kate@example.org\u200b", "ka\u200dte@example.org",
                                   "ka te@example.org", "kate@exa\u0441mple.org", "kate", "@example.org", "kate@org",
                                   "k\x00ate@example.org", "x" * 250 + "@example.org"])
def test_invisible_mixed_script_and_malformed_addresses_are_refused(typed):
    with pytest.raises(ValidationFailed) as caught:
        normalise_email(typed)
    assert "email" in caught.value.fields
    assert email_key_of(typed) is None


def test_addresses_in_one_other_script_are_fine():
    assert normalise_email("анна@пример.рф") == "анна@пример.рф"
    assert email_key("Léa.Martin@Exemple.fr") == "léa.martin@exemple.fr"
