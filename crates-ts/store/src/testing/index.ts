export { type PreportState, writePreportStateDir } from '../lmdb/preport.ts'
export { type PostgresServer, type PostgresServerOptions, startPostgres } from './postgres.ts'
