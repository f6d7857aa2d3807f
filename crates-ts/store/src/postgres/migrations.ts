/**
 * The PostgreSQL schema, as versioned migrations: entry N brings a schema at version N-1 to N.
 * Applied in order at open, in one transaction under an advisory lock, so daemons starting
 * together migrate once. Append new entries; never edit one that has shipped.
 *
 * Keys are `COLLATE "C"`: byte order, the order LMDB lists them in, so cursors page the same way
 * on both backends.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE arw_journal_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    head bigint NOT NULL
  );
  INSERT INTO arw_journal_head (head) VALUES (0);
  CREATE TABLE arw_journal (
    id bigint PRIMARY KEY,
    kind text NOT NULL,
    trace_id text,
    task_id text,
    event text NOT NULL
  );
  CREATE INDEX arw_journal_by_trace ON arw_journal (trace_id, id) WHERE trace_id IS NOT NULL;
  CREATE INDEX arw_journal_by_task ON arw_journal (task_id, id) WHERE task_id IS NOT NULL;
  CREATE TABLE arw_records (
    collection text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text NOT NULL,
    version bigint NOT NULL,
    expires_at bigint,
    PRIMARY KEY (collection, key)
  );
  CREATE INDEX arw_records_by_expiry ON arw_records (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE arw_index_entries (
    collection text COLLATE "C" NOT NULL,
    index_name text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    is_unique boolean NOT NULL,
    PRIMARY KEY (collection, index_name, value, key),
    FOREIGN KEY (collection, key) REFERENCES arw_records (collection, key) ON DELETE CASCADE
  );
  CREATE INDEX arw_index_entries_by_record ON arw_index_entries (collection, key);
  CREATE UNIQUE INDEX arw_index_entries_unique ON arw_index_entries (collection, index_name, value)
    WHERE is_unique;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length
