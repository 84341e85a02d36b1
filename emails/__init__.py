"""The email outbox: every email is a row first (Django's email backend writes it), sent by a durable job."""
