"""Link tokens: a nonce is useless without the secret key; a token serves one purpose."""
from umpnet_kernel.links import LinkTokens, keyed_hash


def test_a_token_gives_back_its_nonce_only_for_its_purpose_and_key():
    links = LinkTokens("secret")
    nonce = links.new_nonce()
    token = links.token("verify-email", nonce)
    assert token.startswith(nonce + ".")
    assert links.nonce_of("verify-email", token) == nonce
    assert links.nonce_of("reset-password", token) is None
    assert LinkTokens("other-secret").nonce_of("verify-email", token) is None
    for forged in (nonce, nonce + ".", "." + token.split(".")[1], token[:-1] + ("A" if token[-1] != "A" else "B"), ""):
        assert links.nonce_of("verify-email", forged) is None


def test_nonces_do_not_repeat():
    assert len({LinkTokens.new_nonce() for _ in range(1000)}) == 1000


def test_keyed_hashes_depend_on_key_and_purpose():
    assert keyed_hash("k", "login", "a@example.org") == keyed_hash("k", "login", "a@example.org")
    assert keyed_hash("k", "login", "a@example.org") != keyed_hash("k2", "login", "a@example.org")
    assert keyed_hash("k", "login", "a@example.org") != keyed_hash("k", "reset", "a@example.org")
