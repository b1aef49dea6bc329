-- Fallback channels: when an answer went to e-mail and/or SMS because the helpdesk would
-- not take it (set once, in the transaction that queues the `fallback` jobs).
ALTER TABLE messages ADD COLUMN fallback_at INTEGER;
