"""The Voucherify simulator: customers, activity, segments, async jobs, exports and loyalties."""
