import { ERRORS } from '@arw/protocol'
import { defineArea } from '../../kernel/area.ts'
import { type EgressConfig, egressConfig } from './config.ts'
import { egressEvents } from './events.ts'
import { Egress } from './gate.ts'
import type { LedgerEntry, Settings } from './model.ts'
import type { EgressServices } from './services.ts'
import { egressTools } from './tools.ts'

/**
 * Egress (seed 003 "Egress"): the policy every outbound request of the daemon passes before it is
 * sent (posture, allow and deny rules, network scopes a connection's policyId names), its settings
 * (stored, changed without a restart) and the ledger that shows an operator every host the daemon
 * talks to. It provides the kernel's egress gate, so it starts before the areas that send.
 */
export const egress = defineArea<EgressServices, EgressConfig>({
  name: 'egress',
  description:
    'The egress policy outbound requests pass before they are sent (posture, allow and deny rules, network scopes), its settings and the ledger of destinations.',
  tools: egressTools,
  events: egressEvents,
  errors: [ERRORS.egress_denied, ERRORS.version_conflict, ERRORS.bad_request],
  config: egressConfig,
  async start(ctx) {
    const config = ctx.config ?? egressConfig.parse({}, [])
    const ledger = ctx.collection<LedgerEntry>('ledger')
    const gate = await Egress.open({
      registry: ctx.registry,
      config,
      ledger,
      settings: ctx.collection<Settings>('settings'),
      transaction: (fn) => ctx.transaction(fn),
      logger: ctx.logger,
    })
    return { services: { egress: gate, ledger }, egress: gate, close: () => gate.close() }
  },
})
