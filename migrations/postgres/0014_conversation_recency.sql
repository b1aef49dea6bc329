-- The conversation lists of the admin API and the panel: most recently active first.
CREATE INDEX conversations_recent ON conversations (tenant_id, updated_at DESC);
