-- Ingress in one round trip, and claims that walk an index instead of every live job.

-- `record_inbound` as one call: upsert the conversation, store the message, and queue or
-- push back the conversation's reply job, exactly as the SQLite store does in Rust (the
-- store conformance suite holds both to one behaviour). Returns no row for a duplicate seen
-- before the call, and fails with unique_violation for one committed during it.
-- The job key and payload text match `JobSpec::conversation_key` and the Rust payload.
CREATE FUNCTION atende_record_inbound(
    p_tenant BIGINT, p_contact TEXT, p_contact_name TEXT, p_ticket_id TEXT,
    p_provider_id TEXT, p_body TEXT, p_correlation_id TEXT, p_sent_at BIGINT, p_now BIGINT,
    p_sentiment DOUBLE PRECISION, p_quiet_until BIGINT, p_not_after BIGINT, p_max_attempts BIGINT)
RETURNS TABLE (message_id BIGINT, conversation_id BIGINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_conversation BIGINT;
    v_message BIGINT;
    v_key TEXT;
    v_job BIGINT;
    v_not_after BIGINT;
    v_run_at BIGINT;
BEGIN
    -- A redelivered webhook changes nothing.
    IF EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = p_tenant AND m.provider_id = p_provider_id) THEN
        RETURN;
    END IF;
    -- Update first: an INSERT … ON CONFLICT would use up a sequence value on every message.
    UPDATE conversations c SET
        contact_name = COALESCE(p_contact_name, c.contact_name),
        ticket_id = COALESCE(p_ticket_id, c.ticket_id),
        state = CASE WHEN c.state = 'closed' THEN 'bot' ELSE c.state END,
        updated_at = p_now
    WHERE c.tenant_id = p_tenant AND c.contact = p_contact
    RETURNING c.id INTO v_conversation;
    IF v_conversation IS NULL THEN
        INSERT INTO conversations AS c (tenant_id, contact, contact_name, ticket_id, created_at, updated_at)
        VALUES (p_tenant, p_contact, p_contact_name, p_ticket_id, p_now, p_now)
        ON CONFLICT (tenant_id, contact) DO UPDATE SET
            contact_name = COALESCE(excluded.contact_name, c.contact_name),
            ticket_id = COALESCE(excluded.ticket_id, c.ticket_id),
            state = CASE WHEN c.state = 'closed' THEN 'bot' ELSE c.state END,
            updated_at = excluded.updated_at
        RETURNING c.id INTO v_conversation;
    END IF;
    -- A concurrent twin that got here first makes this insert fail with unique_violation
    -- (23505), which undoes the whole call, conversation upsert included; the store reports
    -- it as a duplicate.
    INSERT INTO messages (tenant_id, conversation_id, provider_id, direction, body, status, correlation_id, sent_at, created_at, sentiment)
    VALUES (p_tenant, v_conversation, p_provider_id, 'inbound', p_body, 'received', p_correlation_id, p_sent_at, p_now, p_sentiment)
    RETURNING id INTO v_message;
    v_key := 'conversation:' || v_conversation;
    SELECT j.id, j.not_after, j.run_at INTO v_job, v_not_after, v_run_at FROM jobs j
    WHERE j.key = v_key AND j.kind = 'reply' AND j.state = 'queued'
    ORDER BY j.id DESC LIMIT 1 FOR UPDATE;
    IF v_job IS NOT NULL THEN
        -- The burst goes on: push the reply back, never past the burst's cap, never earlier.
        UPDATE jobs SET
            run_at = GREATEST(CASE WHEN v_not_after IS NULL THEN p_quiet_until ELSE LEAST(p_quiet_until, v_not_after) END, v_run_at),
            updated_at = p_now
        WHERE id = v_job AND state = 'queued';
    ELSE
        INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, not_after, correlation_id, created_at, updated_at)
        VALUES (p_tenant, 'reply', v_key, '{"conversation_id":' || v_conversation || '}', p_max_attempts,
                p_quiet_until, p_not_after, p_correlation_id, p_now, p_now);
    END IF;
    message_id := v_message;
    conversation_id := v_conversation;
    RETURN NEXT;
END
$$;

-- Claims take deliveries first, then the oldest due job: this index is that order, so a
-- claim stops at the first runnable job instead of sorting every live one.
CREATE INDEX jobs_claim_order ON jobs ((CASE kind WHEN 'deliver' THEN 0 ELSE 1 END), run_at, id)
    WHERE state IN ('queued', 'running');
