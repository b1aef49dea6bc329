-- Full-text search over the knowledge base (`[brain] knowledge_search = "database"`): an
-- FTS5 index over knowledge_entries. The in-memory BM25 in `knowledge` stays the default
-- and ignores this.

-- External content: the text lives only in knowledge_entries, the index only holds tokens.
-- `unicode61 remove_diacritics 2` folds case and accents ("endereço" = "endereco").
-- Every entry is indexed, disabled ones too; the search filters on `enabled`.
CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    question, title, tags, answer,
    content = 'knowledge_entries',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Kept in step by triggers, so every writer (store, sqlite3 shell, a restore) keeps it right.
-- An external-content index removes a row by being given its old values.
CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_entries BEGIN
    INSERT INTO knowledge_fts (rowid, question, title, tags, answer)
    VALUES (new.id, new.question, new.title, new.tags, new.answer);
END;

CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_entries BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, question, title, tags, answer)
    VALUES ('delete', old.id, old.question, old.title, old.tags, old.answer);
END;

CREATE TRIGGER knowledge_fts_update AFTER UPDATE OF question, title, tags, answer ON knowledge_entries BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, question, title, tags, answer)
    VALUES ('delete', old.id, old.question, old.title, old.tags, old.answer);
    INSERT INTO knowledge_fts (rowid, question, title, tags, answer)
    VALUES (new.id, new.question, new.title, new.tags, new.answer);
END;

-- Entries stored before this migration.
INSERT INTO knowledge_fts (knowledge_fts) VALUES ('rebuild');
