export { Journal, type JournalHealth, type JournalListener, type JournalRecord } from './journal.ts'
export { type Collection, type Durability, Store, type StoreOptions, type StoreWrite } from './store.ts'
