export { type PostgresServer, type PostgresServerOptions, startPostgres } from './postgres.ts'
