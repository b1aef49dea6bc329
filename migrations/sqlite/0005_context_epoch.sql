-- Bumped whenever messages already answered change in place (a handoff cancels bot answers
-- not yet sent), so a cached short-term context window of the conversation is dropped.
ALTER TABLE conversations ADD COLUMN context_epoch INTEGER NOT NULL DEFAULT 0;
