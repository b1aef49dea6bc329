-- Tenant secrets rotated or set from the command line (`atende secrets rotate|set`), as JSON
-- whose values are sealed like the settings'; `tenant apply` leaves them alone.
ALTER TABLE tenants ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
