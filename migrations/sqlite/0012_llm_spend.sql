-- LLM tokens and their cost (millionths of the tenant's currency) per tenant and UTC day;
-- a month is the sum of its days.
CREATE TABLE llm_spend (
    tenant_id      INTEGER  NOT NULL REFERENCES tenants(id),
    day            TEXT    NOT NULL,
    input_tokens   INTEGER  NOT NULL DEFAULT 0,
    output_tokens  INTEGER  NOT NULL DEFAULT 0,
    cost_micros    INTEGER  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);
