"""Connection secrets at rest: HKDF-derived Fernet key, typed errors that say what to do."""

import pytest

from plugin.core.secretbox import (
    PREFIX,
    NoSecretKey,
    SecretBox,
    SecretBoxError,
    SecretKeyChanged,
    derive_key,
    is_encrypted,
)

KEY = "s" * 40


def test_round_trip_and_the_plaintext_is_not_in_the_ciphertext():
    box = SecretBox(KEY)
    token = box.encrypt("zat-very-secret-access-token")
    assert token.startswith(PREFIX) and is_encrypted(token)
    assert "very-secret" not in token
    assert box.decrypt(token) == "zat-very-secret-access-token"


def test_each_encryption_differs_but_any_process_with_the_key_can_read_it():
    first, second = SecretBox(KEY).encrypt("same"), SecretBox(KEY).encrypt("same")
    assert first != second  # random IV per value
    assert SecretBox(KEY).decrypt(first) == SecretBox(KEY).decrypt(second) == "same"


def test_the_derivation_is_fixed():
    # HKDF-SHA256 with the documented salt and info: changing them would lock every install out.
    assert derive_key(KEY) == b"vZRmoza5oOvxCZzrKmTHRozTgWquptn83mnkFQsDDoM="
    assert derive_key(KEY) != derive_key(KEY + "x")


def test_a_different_secret_key_fails_with_a_typed_error_naming_the_fix():
    token = SecretBox(KEY).encrypt("refresh-token")
    with pytest.raises(SecretKeyChanged) as caught:
        SecretBox("another secret key entirely").decrypt(token)
    assert "AMENDS_SECRET_KEY" in str(caught.value)
    assert "connect Zendesk again on /admin/connect" in str(caught.value)
    assert "refresh-token" not in str(caught.value)


def test_tampering_is_refused():
    token = SecretBox(KEY).encrypt("abc")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretKeyChanged):
        SecretBox(KEY).decrypt(tampered)


def test_no_secret_key_means_nothing_can_be_stored():
    with pytest.raises(NoSecretKey, match="AMENDS_SECRET_KEY is not set"):
        SecretBox("")


@pytest.mark.parametrize("value", ["plain text", "", "gAAAAAB-not-prefixed"])
def test_values_without_the_prefix_are_not_secrets(value):
    assert not is_encrypted(value)
    with pytest.raises(SecretBoxError):
        SecretBox(KEY).decrypt(value)
