-- Facts about the deployment a database belongs to; `profile` keeps staging and production
-- from sharing one database.
CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
