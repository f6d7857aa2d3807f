import { defineEvent } from '@arw/registry'
import Type from 'typebox'
import { LedgerEntry, Settings } from './model.ts'

/** The egress area's event kinds (seed 003: `egress.ledger.appended`). */

export const ledgerAppended = defineEvent({
  kind: 'egress.ledger.appended',
  version: '1.0.0',
  title: 'An egress ledger entry was written',
  description:
    'The daemon refused a request to a destination, or reached a destination for the first time since it started or since the egress settings changed.',
  payload: Type.Object({ entry: LedgerEntry }),
})

export const settingsChanged = defineEvent({
  kind: 'egress.settings.changed',
  version: '1.0.0',
  title: 'The egress settings changed',
  description: 'PATCH /egress/settings stored new settings; they apply to the next request at once.',
  payload: Type.Object({
    settings: Settings,
    version: Type.Integer({ minimum: 1 }),
    changed: Type.Array(Type.String()),
  }),
})

export const egressEvents = [ledgerAppended, settingsChanged]
