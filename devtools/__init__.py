"""What dev.py, the tests and the benchmarks use to run this app on one machine: processes started
like a dyno's, the Redis server dev.py would start, and test images. Not part of the app (nothing
in a deploy imports it); bench/ uses it without tests/, and tests/support re-exports it."""
