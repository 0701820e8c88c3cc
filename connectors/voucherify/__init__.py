"""Voucherify: the API client, the pull streams and the push jobs."""
