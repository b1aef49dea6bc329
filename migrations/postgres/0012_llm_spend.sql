-- LLM tokens and their cost (millionths of the tenant's currency) per tenant and UTC day;
-- a month is the sum of its days.
CREATE TABLE llm_spend (
    tenant_id      BIGINT  NOT NULL REFERENCES tenants(id),
    day            TEXT    NOT NULL,
    input_tokens   BIGINT  NOT NULL DEFAULT 0,
    output_tokens  BIGINT  NOT NULL DEFAULT 0,
    cost_micros    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);
