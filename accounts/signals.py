"""Signals the accounts app sends, so other apps can act on account changes without accounts knowing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `users` (a queryset) inside the transaction that is about to delete those accounts.
# A receiver calls a service of its own app; database rows cascade by themselves.
users_deleting = Signal()
