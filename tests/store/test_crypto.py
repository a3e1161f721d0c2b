from __future__ import annotations

import pytest

from daemon.store.crypto import EncryptionKeyMissing, SecretBox, UndecryptableSecret

KEY_A = "a" * 40
KEY_B = "b" * 40


def test_round_trip_uses_a_fresh_salt_every_time() -> None:
    box = SecretBox(KEY_A)
    first = box.encrypt("hunter2", clinic_id="c1", what="password")
    second = box.encrypt("hunter2", clinic_id="c1", what="password")
    assert first != second
    assert "hunter2" not in first
    assert box.decrypt(first, clinic_id="c1", what="password") == "hunter2"


def test_value_is_bound_to_its_clinic_and_field() -> None:
    box = SecretBox(KEY_A)
    sealed = box.encrypt("hunter2", clinic_id="c1", what="password")
    with pytest.raises(UndecryptableSecret, match="clinic c2"):
        box.decrypt(sealed, clinic_id="c2", what="password")
    with pytest.raises(UndecryptableSecret):
        box.decrypt(sealed, clinic_id="c1", what="username")


def test_wrong_key_is_a_clear_error_naming_the_clinic_never_garbage() -> None:
    sealed = SecretBox(KEY_A).encrypt("hunter2", clinic_id="c1", what="password")
    with pytest.raises(UndecryptableSecret) as caught:
        SecretBox(KEY_B).decrypt(sealed, clinic_id="c1", what="password")
    assert "c1" in str(caught.value) and "hunter2" not in str(caught.value)
    assert "PIMS_ENCRYPTION_KEY" in str(caught.value)


def test_previous_key_decrypts_during_rotation() -> None:
    sealed = SecretBox(KEY_A).encrypt("hunter2", clinic_id="c1", what="password")
    rotating = SecretBox(KEY_B, (KEY_A,))
    assert rotating.needs_rotation(sealed)
    assert rotating.decrypt(sealed, clinic_id="c1", what="password") == "hunter2"
    resealed = rotating.encrypt("hunter2", clinic_id="c1", what="password")
    assert not rotating.needs_rotation(resealed)


def test_tampered_value_fails_authentication() -> None:
    box = SecretBox(KEY_A)
    sealed = box.encrypt("hunter2", clinic_id="c1", what="password")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(UndecryptableSecret):
        box.decrypt(tampered, clinic_id="c1", what="password")


def test_missing_key_refuses_to_encrypt() -> None:
    with pytest.raises(EncryptionKeyMissing, match="PIMS_ENCRYPTION_KEY"):
        SecretBox(None).encrypt("x", clinic_id="c1", what="password")
