-- Bulk customer update (and CSV import): customer fields by source_id; NULL leaves a field as is.
SELECT
    source_id, name, email, phone, birthdate, description,
    address_line_1, address_line_2, address_city, address_state, address_postal_code,
    address_country, metadata
FROM push_voucherify_customers
