-- Ingress in batches: the webhooks that arrive together are stored by one call, in one
-- transaction, so the server pays one statement and one commit for the batch instead of one
-- per webhook (see bench/RESULTS.md: on a 2-core machine one write transaction per webhook
-- tops out near 4,000/s, whatever the client).
--
-- Each element is handled by `atende_record_inbound` (migration 0004), so the semantics are
-- exactly those of one call per element, applied in order: a provider id already stored, or
-- stored by an earlier element, is a duplicate (no row for its slot). Elements run in the
-- order (tenant, contact, position), so two batches lock the conversations they share in the
-- same order and cannot deadlock on them; one contact's messages keep their arrival order.
-- Any error (e.g. a concurrent twin's unique violation) undoes the whole batch: the caller
-- then records the elements one by one, so each gets its own outcome.
CREATE FUNCTION atende_record_inbound_many(
    p_tenant BIGINT[], p_contact TEXT[], p_contact_name TEXT[], p_ticket_id TEXT[],
    p_provider_id TEXT[], p_body TEXT[], p_correlation_id TEXT[], p_sent_at BIGINT[], p_now BIGINT[],
    p_sentiment DOUBLE PRECISION[], p_quiet_until BIGINT[], p_not_after BIGINT[], p_max_attempts BIGINT[])
RETURNS TABLE (slot INT, message_id BIGINT, conversation_id BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_slot INT;
    v_row RECORD;
BEGIN
    FOR v_slot IN
        SELECT s.i FROM generate_subscripts(p_contact, 1) AS s(i) ORDER BY p_tenant[s.i], p_contact[s.i], s.i
    LOOP
        FOR v_row IN
            SELECT * FROM atende_record_inbound(
                p_tenant[v_slot], p_contact[v_slot], p_contact_name[v_slot], p_ticket_id[v_slot],
                p_provider_id[v_slot], p_body[v_slot], p_correlation_id[v_slot], p_sent_at[v_slot], p_now[v_slot],
                p_sentiment[v_slot], p_quiet_until[v_slot], p_not_after[v_slot], p_max_attempts[v_slot])
        LOOP
            slot := v_slot;
            message_id := v_row.message_id;
            conversation_id := v_row.conversation_id;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
