-- AI replies are counted from here (reset when a person hands the conversation back).
ALTER TABLE conversations ADD COLUMN ai_count_from BIGINT NOT NULL DEFAULT 0;
-- The mood gauge reads recent inbound sentiment.
CREATE INDEX messages_mood ON messages (created_at) WHERE direction = 'inbound' AND sentiment IS NOT NULL;
-- Running summary of turns that fell out of the prompt window, and the last message it covers.
ALTER TABLE conversations ADD COLUMN summary TEXT;
ALTER TABLE conversations ADD COLUMN summary_upto BIGINT NOT NULL DEFAULT 0;
