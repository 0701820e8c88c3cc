-- Talon.One profiles: attributes by integrationId.
SELECT integration_id, attributes FROM push_talon_one_profiles
