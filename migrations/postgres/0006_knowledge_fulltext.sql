-- Full-text search over the knowledge base (`[brain] knowledge_search = "database"`):
-- a weighted `tsvector` per entry with the `portuguese` configuration over accent-free text,
-- and a GIN index. The in-memory BM25 in `knowledge` stays the default and ignores this.

-- 1. `unaccent`, when this server ships it and this role may install it. An extension is
--    database-wide, so it goes to `public` when possible (a schema that is dropped with
--    Atende's tables would take it away from every other schema using it), else to the
--    current schema. Every failure is swallowed: without the extension search still works,
--    only without accent folding. unique_violation/duplicate_object: another session
--    installed it at the same moment.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
        EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported
                    OR invalid_schema_name OR unique_violation OR duplicate_object THEN
            BEGIN
                CREATE EXTENSION IF NOT EXISTS unaccent;
            EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported
                        OR invalid_schema_name OR unique_violation OR duplicate_object THEN
                RAISE NOTICE 'unaccent is not available (%): knowledge search will not fold accents', SQLERRM;
            END;
        END;
    END IF;
END
$$;

-- 2. `atende_unaccent(text)`: an IMMUTABLE wrapper, which a generated column and an index
--    require (`unaccent` itself is only STABLE, because its dictionary is looked up through
--    the search path). The body is chosen now: `unaccent` with its dictionary named by
--    schema when the extension exists, the identity otherwise. Installing the extension
--    later takes a `CREATE OR REPLACE` of this function with the first body, then
--    `UPDATE knowledge_entries SET question = question` to refresh the stored vectors.
--    The body names the extension's schema, so it does not depend on `search_path`.
DO $$
DECLARE
    ext_schema name := (
        SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'unaccent'
    );
BEGIN
    IF ext_schema IS NULL THEN
        CREATE FUNCTION atende_unaccent(input text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS 'SELECT input';
    ELSE
        EXECUTE format(
            'CREATE FUNCTION atende_unaccent(input text) RETURNS text
                 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                 AS %L',
            format('SELECT %I.unaccent(%L::regdictionary, input)', ext_schema, quote_ident(ext_schema) || '.unaccent')
        );
    END IF;
END
$$;

-- 3. The vector, weighted so the question (A) outranks title and tags (B) and the answer (C).
--    A STORED generated column rather than a trigger or a column the store writes: it is
--    declared once, next to the data it derives from, cannot drift from the row whatever
--    writes it (store, psql, a restore), and `ADD COLUMN` fills it for existing rows. Tags
--    are a JSON array in text; the parser reads its brackets and quotes as spaces.
ALTER TABLE knowledge_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('portuguese', atende_unaccent(question)), 'A')
    || setweight(to_tsvector('portuguese', atende_unaccent(coalesce(title, '') || ' ' || tags)), 'B')
    || setweight(to_tsvector('portuguese', atende_unaccent(answer)), 'C')
) STORED;

CREATE INDEX knowledge_entries_search ON knowledge_entries USING GIN (search_vector);
