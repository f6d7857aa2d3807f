export type { JournalHealth, JournalListener } from './journal.ts'
export { Journal } from './journal.ts'
export {
  type Collection,
  type CollectionSpec,
  DEFAULT_PAGE_SIZE,
  type DeleteOptions,
  type Durability,
  type Entry,
  type IndexSpec,
  type JournalRecord,
  type ListOptions,
  MAX_PAGE_SIZE,
  type PutOptions,
  type Transaction,
  type Write,
} from './port.ts'
export type { JournalRetention } from './retention.ts'
export { backupStateDir, LMDB_FILE, RETENTION_INTERVAL_MS, Store, type StoreOptions } from './store.ts'
