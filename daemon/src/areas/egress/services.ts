import type { Collection } from '@arw/store'
import type { Egress } from './gate.ts'
import type { LedgerEntry } from './model.ts'

/** What the egress area's tools reach: the gate (policy, settings, tallies) and the ledger. */
export interface EgressServices {
  egress: Egress
  ledger: Collection<LedgerEntry>
}
