"""A PBKDF2 hasher of one round, for the tests' own process.

Its hashes are ordinary `pbkdf2_sha256$1$...` strings, so a web or worker process the tests
start, which hashes with the production settings' hasher, checks them (the round count is in
the hash); an MD5 test hasher's it could not.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class OneRoundPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
