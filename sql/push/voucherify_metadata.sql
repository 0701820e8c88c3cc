-- Bulk metadata: one row per customer, (source_id, metadata JSON object).
SELECT source_id, metadata FROM push_voucherify_metadata
