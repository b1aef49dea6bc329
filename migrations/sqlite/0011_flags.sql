-- Feature flags an operator sets at run time (`atende flags set`), as a JSON object of the
-- flags that differ from their default; `tenant apply` leaves them alone.
ALTER TABLE tenants ADD COLUMN flags TEXT NOT NULL DEFAULT '{}';
