/** The LMDB environment's file inside a state directory. */
export const LMDB_FILE = 'arw.lmdb'
