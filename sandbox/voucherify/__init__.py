"""The Voucherify simulator: customers, activity, segments, async bulk jobs and legacy loyalties."""
