"""The demo's settings: each default once, read as `conf.NAME()` (how, and why so: queues/conf.py)."""

from __future__ import annotations

from queues.conf import Setting

# Longest edge in pixels of each thumbnail, largest first: they are made in a cascade.
THUMBNAIL_SIZES = Setting("THUMBNAIL_SIZES", (1600, 800, 400))
# Originals are deleted once their thumbnails exist, so the database (1 GB on Heroku Postgres
# essential-0) holds only thumbnails; set to keep them, e.g. to re-make thumbnails later.
KEEP_ORIGINAL_UPLOADS = Setting("KEEP_ORIGINAL_UPLOADS", False)
# Hours a file the browser put straight in the bucket may wait to be recorded before the hourly
# clean-up deletes it: a closed tab must not leave unchecked objects behind for ever, and a slow
# upload finishing on a phone must not lose its file.
DIRECT_UPLOAD_GRACE_HOURS = Setting("DIRECT_UPLOAD_GRACE_HOURS", 24)
