-- AI replies are counted from here (reset when a person hands the conversation back).
ALTER TABLE conversations ADD COLUMN ai_count_from INTEGER NOT NULL DEFAULT 0;
-- The mood gauge reads recent inbound sentiment.
CREATE INDEX messages_mood ON messages (created_at) WHERE direction = 'inbound' AND sentiment IS NOT NULL;
