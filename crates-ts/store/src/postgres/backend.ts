import { ERRORS, type EventEnvelope, ProblemError } from '@arw/protocol'
import pg from 'pg'
import type { Backend, CommitBatch, Line, StoredRecord, Unit } from '../backend.ts'
import type { CollectionSpec, Durability, Write } from '../port.ts'
import { ageCut, type JournalRetention, RETENTION_CHUNK, timeOfLine } from '../retention.ts'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts'

export interface PostgresOptions {
  url: string
  durability: Durability
  /** Connections in the pool (reads run beside the one commit in flight). */
  poolSize?: number
}

/** Thrown when the database was migrated by a newer daemon than this one. */
export class SchemaTooNewError extends Error {
  constructor(found: number) {
    super(
      `the PostgreSQL schema is at version ${found}, newer than this daemon knows (${SCHEMA_VERSION}); ` +
        'run a daemon at least as new as the one that migrated it',
    )
    this.name = 'SchemaTooNewError'
  }
}

const INT8 = 20
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

export async function openPostgres(options: PostgresOptions): Promise<PostgresBackend> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 8,
    types,
    // `commit` durability: the server acknowledges a commit before its WAL is flushed. A daemon
    // killed after the acknowledgement loses nothing; a crash of the server can lose its last
    // few hundred milliseconds (wal_writer_delay), the same promise LMDB's commit mode makes.
    ...(options.durability === 'commit' ? { options: '-c synchronous_commit=off' } : {}),
  })
  // An idle connection the server drops must not crash the daemon; the next query reconnects.
  pool.on('error', () => {})
  try {
    await migrate(pool)
    const { rows } = await pool.query<{ head: number; oldest: number | null }>(
      'SELECT head, (SELECT min(id) FROM arw_journal) AS oldest FROM arw_journal_head',
    )
    const { head, oldest } = rows[0]!
    return new PostgresBackend(pool, options.durability, head, oldest ?? head + 1)
  } catch (error) {
    await pool.end()
    throw error
  }
}

/** Brings the schema to SCHEMA_VERSION; refuses one that is newer. */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query("SELECT pg_advisory_xact_lock(hashtext('arw.schema'))")
    await client.query(
      'CREATE TABLE IF NOT EXISTS arw_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const { rows } = await client.query<{ version: number }>(
      'SELECT coalesce(max(version), 0) AS version FROM arw_schema_migrations',
    )
    const found = rows[0]!.version
    if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found)
    for (let version = found + 1; version <= SCHEMA_VERSION; version++) {
      await client.query(MIGRATIONS[version - 1]!)
      await client.query('INSERT INTO arw_schema_migrations (version) VALUES ($1)', [version])
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

// Numbers the records under the head row's lock, which the UPDATE holds until the transaction
// ends: daemons sharing the database commit one at a time, so ids are gap-free and in commit order.
const APPEND = `
WITH h AS (UPDATE arw_journal_head SET head = head + $1 WHERE singleton RETURNING head - $1 AS base),
ins AS (
  INSERT INTO arw_journal (id, kind, trace_id, task_id, event)
  SELECT h.base + u.o, u.k, u.t, u.ta, '{"id":' || (h.base + u.o) || ',' || substr(u.e, 9)
  FROM h, unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(k, t, ta, e, o)
)
SELECT base + 1 AS first FROM h`

/**
 * The shared backend: several daemons may use one database. A batch is one transaction; a unit
 * whose condition fails is rolled back to its savepoint without failing the others.
 */
export class PostgresBackend implements Backend {
  readonly kind = 'postgres'
  readonly durability: Durability
  // A commit is durable when the server acknowledges it (see synchronous_commit above).
  readonly flushes = false
  readonly head: number
  oldest: number
  readonly #pool: pg.Pool
  readonly #specs = new Map<string, CollectionSpec<unknown>>()

  constructor(pool: pg.Pool, durability: Durability, head: number, oldest: number) {
    this.#pool = pool
    this.durability = durability
    this.head = head
    this.oldest = oldest
  }

  declare(spec: CollectionSpec<unknown>, name: string): void {
    this.#specs.set(name, spec)
  }

  async commit(batch: CommitBatch): Promise<void> {
    if (batch.units.length === 0) {
      // Records only (the invoke hot path): one statement, its own transaction, one round trip.
      if (batch.records.length > 0) batch.seal(await this.#append(this.#pool, batch.records))
      return
    }
    const client = await this.#pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const now = Date.now()
      for (const unit of batch.units) await this.#unit(client, unit, now)
      const kept = batch.kept()
      const first = kept.length > 0 ? await this.#append(client, kept) : 0
      await client.query('COMMIT')
      if (kept.length > 0) batch.seal(first)
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error))
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release(broken)
    }
  }

  async #append(db: pg.Pool | pg.PoolClient, records: CommitBatch['records']): Promise<number> {
    const kinds: string[] = []
    const traces: Array<string | null> = []
    const tasks: Array<string | null> = []
    const json: string[] = []
    for (const record of records) {
      kinds.push(record.kind)
      traces.push(record.event.trace_id ?? null)
      tasks.push(record.event.task_id ?? null)
      json.push(record.json)
    }
    const { rows } = await db.query<{ first: number }>(APPEND, [records.length, kinds, traces, tasks, json])
    return rows[0]!.first
  }

  /** A unit that can be refused on its own: it has conditions, or writes a collection with indexes. */
  #refusable(unit: Unit): boolean {
    if (unit.checks.length > 0) return true
    for (const write of unit.writes) {
      if (write.ifVersion !== undefined || (write.delete && write.ifExpiredVersion !== undefined)) return true
      if (this.#specs.get(write.collection)?.indexes?.length) return true
    }
    return false
  }

  async #unit(client: pg.PoolClient, unit: Unit, now: number): Promise<void> {
    if (!this.#refusable(unit)) {
      const versions: number[] = []
      for (const write of unit.writes) versions.push(await this.#write(client, write, now))
      unit.versions = versions
      return
    }
    await client.query('SAVEPOINT unit')
    try {
      for (const check of unit.checks) {
        const live = await this.#locked(client, check.collection, check.key, now)
        if ((live?.live ?? 0) !== check.version)
          throw new ProblemError(ERRORS.version_conflict, {
            collection: check.collection,
            expected: check.version,
          })
      }
      const versions: number[] = []
      for (const write of unit.writes) versions.push(await this.#write(client, write, now))
      await client.query('RELEASE SAVEPOINT unit')
      unit.versions = versions
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error
      await client.query('ROLLBACK TO SAVEPOINT unit')
      unit.error = error
    }
  }

  /** The record's row, locked for the rest of the transaction, with its live version (0: expired). */
  async #locked(
    client: pg.PoolClient,
    collection: string,
    key: string,
    now: number,
  ): Promise<{ version: number; live: number; value: string } | undefined> {
    const { rows } = await client.query<{ version: number; expires_at: number | null; value: string }>(
      'SELECT version, expires_at, value FROM arw_records WHERE collection = $1 AND key = $2 FOR UPDATE',
      [collection, key],
    )
    const row = rows[0]
    if (!row) return undefined
    const live = row.expires_at !== null && row.expires_at <= now ? 0 : row.version
    return { version: row.version, live, value: row.value }
  }

  async #write(client: pg.PoolClient, write: Write, now: number): Promise<number> {
    const { collection, key } = write
    const spec = this.#specs.get(collection)
    const conditional =
      write.ifVersion !== undefined || (write.delete && write.ifExpiredVersion !== undefined)
    const current = conditional ? await this.#locked(client, collection, key, now) : undefined
    if (write.ifVersion !== undefined && (current?.live ?? 0) !== write.ifVersion)
      throw new ProblemError(ERRORS.version_conflict, { collection, expected: write.ifVersion })
    if (write.delete) {
      if (
        write.ifExpiredVersion !== undefined &&
        (current === undefined || current.version !== write.ifExpiredVersion || current.live !== 0)
      )
        throw new ProblemError(ERRORS.version_conflict, { collection, expected: write.ifExpiredVersion })
      // Index entries go with the row (ON DELETE CASCADE).
      await client.query('DELETE FROM arw_records WHERE collection = $1 AND key = $2', [collection, key])
      return 0
    }
    const value = JSON.stringify(write.value)
    const expiresAt = write.ttlMs === undefined ? null : now + write.ttlMs
    let version: number
    if (write.ifVersion === 0 && current === undefined) {
      // "Only when absent", with no row to lock: a concurrent insert makes this one a conflict.
      const { rows } = await client.query<{ version: number }>(
        `INSERT INTO arw_records (collection, key, value, version, expires_at) VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (collection, key) DO NOTHING RETURNING version`,
        [collection, key, value, expiresAt],
      )
      if (rows.length === 0) throw new ProblemError(ERRORS.version_conflict, { collection, expected: 0 })
      version = rows[0]!.version
    } else {
      const { rows } = await client.query<{ version: number }>(
        `INSERT INTO arw_records (collection, key, value, version, expires_at) VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (collection, key) DO UPDATE
           SET value = EXCLUDED.value, version = arw_records.version + 1, expires_at = EXCLUDED.expires_at
         RETURNING version`,
        [collection, key, value, expiresAt],
      )
      version = rows[0]!.version
    }
    if (spec?.indexes?.length) await this.#reindex(client, collection, key, write.value, spec, now)
    return version
  }

  async #reindex(
    client: pg.PoolClient,
    collection: string,
    key: string,
    value: unknown,
    spec: CollectionSpec<unknown>,
    now: number,
  ): Promise<void> {
    await client.query('DELETE FROM arw_index_entries WHERE collection = $1 AND key = $2', [collection, key])
    for (const index of spec.indexes!) {
      const indexed = index.of(value)
      if (indexed === undefined) continue
      if (index.unique) {
        // An expired record holds nothing: its claim is dropped now; the sweep deletes the record.
        await client.query(
          `DELETE FROM arw_index_entries i USING arw_records r
           WHERE i.collection = $1 AND i.index_name = $2 AND i.value = $3 AND i.is_unique AND i.key <> $4
             AND r.collection = i.collection AND r.key = i.key AND r.expires_at <= $5`,
          [collection, index.name, indexed, key, now],
        )
      }
      try {
        await client.query('SAVEPOINT entry')
        await client.query(
          'INSERT INTO arw_index_entries (collection, index_name, value, key, is_unique) VALUES ($1, $2, $3, $4, $5)',
          [collection, index.name, indexed, key, index.unique === true],
        )
        await client.query('RELEASE SAVEPOINT entry')
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error
        await client.query('ROLLBACK TO SAVEPOINT entry')
        throw new ProblemError(ERRORS.unique_conflict, { collection, index: index.name })
      }
    }
  }

  async flushed(): Promise<void> {}

  indexed(_event: EventEnvelope, _id: number): void {
    // Trace and task ids are columns of arw_journal, indexed by the database in the same commit.
  }

  async lines(from: number, to: number, limit: number): Promise<Line[]> {
    const { rows } = await this.#pool.query<{ id: number; event: string }>(
      'SELECT id, event FROM arw_journal WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT $3',
      [from, to, limit],
    )
    return rows.map((row) => ({ id: row.id, json: row.event }))
  }

  /**
   * Deletes by id range from the oldest, RETENTION_CHUNK ids per statement; the head row is not
   * touched, so appends (which lock it) go on beside the deletes, and ids are never given again.
   * The size is the bytes of the records' JSON (found with one scan per pass; the table's files
   * do not shrink, PostgreSQL reuses the space after its autovacuum). Daemons sharing the database
   * may all run it: a range another one deleted is simply gone.
   */
  async retain(rule: JournalRetention, now: number, newest: number, signal: AbortSignal): Promise<number> {
    const { rows } = await this.#pool.query<{ oldest: number | null }>(
      'SELECT min(id) AS oldest FROM arw_journal',
    )
    this.oldest = Math.max(this.oldest, rows[0]!.oldest ?? this.oldest)
    let cut = this.oldest - 1
    if (rule.maxAgeMs !== undefined) {
      const cutoff = new Date(now - rule.maxAgeMs).toISOString()
      cut = await ageCut(this.oldest, newest, cutoff, async (id) => {
        const [line] = await this.lines(id, id, 1)
        return line && timeOfLine(line.json)
      })
    }
    if (rule.maxBytes !== undefined) {
      // The newest record that does not fit: the sum of the records after it is already the budget.
      const { rows: over } = await this.#pool.query<{ id: number }>(
        `SELECT id FROM (
           SELECT id, sum(octet_length(event)) OVER (ORDER BY id DESC) AS kept FROM arw_journal WHERE id <= $1
         ) s WHERE kept > $2 ORDER BY id DESC LIMIT 1`,
        [newest, rule.maxBytes],
      )
      if (over[0]) cut = Math.max(cut, over[0].id)
    }
    cut = Math.min(cut, newest)
    let removed = 0
    while (this.oldest <= cut && !signal.aborted) {
      const to = Math.min(cut, this.oldest + RETENTION_CHUNK - 1)
      const deleted = await this.#pool.query('DELETE FROM arw_journal WHERE id >= $1 AND id <= $2', [
        this.oldest,
        to,
      ])
      removed += deleted.rowCount ?? 0
      this.oldest = to + 1
    }
    return removed
  }

  async lookup(by: 'trace' | 'task', id: string, limit: number): Promise<number[]> {
    const column = by === 'trace' ? 'trace_id' : 'task_id'
    const { rows } = await this.#pool.query<{ id: number }>(
      `SELECT id FROM arw_journal WHERE ${column} = $1 ORDER BY id LIMIT $2`,
      [id, limit],
    )
    return rows.map((row) => row.id)
  }

  async get(collection: string, key: string): Promise<StoredRecord | undefined> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT key, value, version, expires_at FROM arw_records
       WHERE collection = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)`,
      [collection, key, Date.now()],
    )
    return rows[0] && recordOf(rows[0])
  }

  async list(
    collection: string,
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<StoredRecord[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT key, value, version, expires_at FROM arw_records
       WHERE collection = $1 AND starts_with(key, $2) AND ($3::text IS NULL OR key > $3)
         AND (expires_at IS NULL OR expires_at > $4)
       ORDER BY key LIMIT $5`,
      [collection, prefix, after ?? null, Date.now(), limit],
    )
    return rows.map(recordOf)
  }

  async find(
    collection: string,
    index: string,
    value: string,
    after: string | undefined,
    limit: number,
  ): Promise<StoredRecord[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT r.key, r.value, r.version, r.expires_at FROM arw_index_entries i
       JOIN arw_records r ON r.collection = i.collection AND r.key = i.key
       WHERE i.collection = $1 AND i.index_name = $2 AND i.value = $3 AND ($4::text IS NULL OR i.key > $4)
         AND (r.expires_at IS NULL OR r.expires_at > $5)
       ORDER BY i.key LIMIT $6`,
      [collection, index, value, after ?? null, Date.now(), limit],
    )
    return rows.map(recordOf)
  }

  async expired(
    now: number,
    limit: number,
  ): Promise<Array<{ collection: string; key: string; version: number }>> {
    const { rows } = await this.#pool.query<{ collection: string; key: string; version: number }>(
      'SELECT collection, key, version FROM arw_records WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2',
      [now, limit],
    )
    return rows
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

interface Row {
  key: string
  value: string
  version: number
  expires_at: number | null
}

function recordOf(row: Row): StoredRecord {
  return {
    key: row.key,
    value: JSON.parse(row.value),
    version: row.version,
    expiresAt: row.expires_at ?? undefined,
  }
}
