-- Talon.One audience memberships: member = true adds, false removes.
SELECT audience_id, integration_id, member FROM push_talon_one_audiences
