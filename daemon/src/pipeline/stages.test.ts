import { ERRORS, type Principal, ProblemError, traceFrom } from '@arw/protocol'
import { defineTool } from '@arw/registry'
import Type from 'typebox'
import { afterEach, describe, expect, it } from 'vitest'
import { AREAS } from '../areas/index.ts'
import { defineArea } from '../kernel/area.ts'
import { type TestDaemon, testDaemon } from '../testing/harness.ts'
import type { ApprovalGate, ApprovalRequest } from './approvals.ts'
import type { PolicyStage } from './policy.ts'
import type { SettleStage } from './settle.ts'

/** A tool that records what it ran with and reports usage. */
const transfer = defineTool({
  name: 'test.transfer',
  version: '1.0.0',
  title: 'Transfer',
  description: 'Moves an amount; reports a cost.',
  input: Type.Object({ amount: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  output: Type.Object({ moved: Type.Integer() }),
  permission: 'money:write',
  handler: ({ amount }, ctx) => {
    ctx.usage({ tokens: 10, cost: amount / 100 })
    ctx.usage({ tokens: 5 })
    return { moved: amount }
  },
})

const slow = defineTool({
  name: 'test.slow',
  version: '1.0.0',
  title: 'Slow',
  description: 'Waits a little.',
  input: Type.Object({ ms: Type.Integer() }),
  output: Type.Object({}),
  handler: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({}), ms)),
})

let d: TestDaemon | undefined
afterEach(async () => {
  await d?.close()
  d = undefined
})

function call(app: TestDaemon, tool: string, body: unknown, headers: Record<string, string> = {}) {
  return app.app.inject({
    method: 'POST',
    url: `/tools/${tool}:invoke`,
    headers: { ...app.admin, ...headers },
    payload: body as object,
  })
}

async function recordsOf(app: TestDaemon, traceId: string) {
  return (await app.app.arw.journal.byTrace(traceId)).filter((e) => e.kind === 'tool.ran')
}

describe('the policy chain', () => {
  const big: PolicyStage = {
    id: 'test.limit',
    evaluate: ({ input }) =>
      (input as { amount?: number }).amount! > 100
        ? { decision: 'deny', reason: 'amounts over 100 are refused', policy_id: 'limits/v1' }
        : { decision: 'allow', reason: 'within the limit', policy_id: 'limits/v1' },
  }
  const watcher: PolicyStage = {
    id: 'test.watch',
    evaluate: ({ surface, depth, trace }) => ({
      decision: 'allow',
      reason: `seen on ${surface} at depth ${depth} in ${trace.traceId.length}-char trace`,
    }),
  }

  it('asks every stage in order, records each verdict, and stops at the first deny', async () => {
    d = await testDaemon({ extraTools: [transfer], policy: [watcher, big] })
    const ok = await call(d, 'test.transfer', { input: { amount: 5 } })
    expect(ok.statusCode).toBe(200)
    const [record] = await recordsOf(d, ok.json().trace_id)
    expect(record?.payload).toMatchObject({
      decision: {
        decision: 'allow',
        policy_id: 'limits/v1',
        stages: [
          { stage: 'test.watch', decision: 'allow', reason: 'seen on http at depth 0 in 32-char trace' },
          { stage: 'test.limit', decision: 'allow', reason: 'within the limit' },
        ],
      },
    })
    const denied = await call(d, 'test.transfer', { input: { amount: 500 } })
    expect(denied.statusCode).toBe(403)
    expect(denied.json()).toMatchObject({ code: 'policy_denied', detail: 'amounts over 100 are refused' })
    const [refusal] = await recordsOf(d, denied.json().trace_id)
    expect(refusal?.payload).toMatchObject({
      outcome: 'error',
      code: 'policy_denied',
      decision: {
        decision: 'deny',
        policy_id: 'limits/v1',
        stages: [{ stage: 'test.watch' }, { stage: 'test.limit' }],
      },
    })
    // The handler never ran: nothing was moved, so no input is recorded for it.
    expect((refusal!.payload as { input?: unknown }).input).toBeUndefined()
  })

  it('refuses a caller that lacks the permission a tool declares', async () => {
    d = await testDaemon({ extraTools: [transfer] })
    const as = (principal: Principal) =>
      d!.app.arw.pipeline.invoke({
        ref: 'test.transfer',
        input: { amount: 1 },
        principal,
        trace: traceFrom(undefined),
        surface: 'test',
      })
    await expect(as({ kind: 'user', id: 'ann', permissions: ['money:read'] })).rejects.toMatchObject({
      problem: { code: 'forbidden', detail: 'test.transfer@1.0.0 needs the permission money:write' },
    })
    await expect(as({ kind: 'user', id: 'bob', permissions: ['money:*'] })).resolves.toMatchObject({
      result: { output: { moved: 1 } },
    })
    await expect(as({ kind: 'admin', id: 'admin' })).resolves.toBeDefined()
  })
})

/**
 * A small approval workflow: a call that needs approval is suspended with an id; an approver
 * approves (possibly editing the input); the call is resumed with the id and runs with the
 * approved input, once, and only for the exact call it was granted for.
 */
class TestApprovals implements ApprovalGate {
  readonly pending = new Map<string, { fingerprint: string; input: unknown; approved?: unknown }>()
  readonly waited: ApprovalRequest[] = []
  #next = 0

  async request(request: ApprovalRequest) {
    this.waited.push(request)
    if (request.approvalId !== undefined) {
      const entry = this.pending.get(request.approvalId)
      if (!entry || entry.fingerprint !== request.fingerprint) {
        throw new ProblemError(ERRORS.policy_denied, { reason: 'that approval is for another call' })
      }
      if (entry.approved === undefined) {
        throw new ProblemError(
          ERRORS.approval_required,
          { tool: request.tool.id, reason: 'still waiting' },
          { approval_id: request.approvalId },
        )
      }
      this.pending.delete(request.approvalId)
      return { input: entry.approved, approval_id: request.approvalId }
    }
    const id = `appr-${++this.#next}`
    this.pending.set(id, { fingerprint: request.fingerprint, input: request.input })
    throw new ProblemError(
      ERRORS.approval_required,
      { tool: request.tool.id, reason: request.decision.reason },
      { approval_id: id },
    )
  }

  approve(id: string, input: unknown): void {
    this.pending.get(id)!.approved = input
  }
}

describe('the approval gate', () => {
  const ask: PolicyStage = {
    id: 'test.ask',
    evaluate: () => ({ decision: 'needs_approval', reason: 'transfers need a second pair of eyes' }),
  }

  it('suspends a call with an approval id and resumes it with the approved input, once', async () => {
    const gate = new TestApprovals()
    d = await testDaemon({ extraTools: [transfer], policy: [ask], approvals: gate })
    const first = await call(d, 'test.transfer', { input: { amount: 50 } }, { 'idempotency-key': 'pay-1' })
    expect(first.statusCode).toBe(202)
    const problem = first.json()
    expect(problem).toMatchObject({ code: 'approval_required', approval_id: 'appr-1' })
    expect((await recordsOf(d, problem.trace_id))[0]?.payload).toMatchObject({
      code: 'approval_required',
      approval_id: 'appr-1',
    })
    // Not approved yet: resuming still waits.
    const early = await call(d, 'test.transfer', { input: { amount: 50 }, approval_id: 'appr-1' })
    expect(early.statusCode).toBe(202)
    // An approval granted for one call does not run another.
    const other = await call(d, 'test.transfer', { input: { amount: 99 }, approval_id: 'appr-1' })
    expect(other.json()).toMatchObject({ code: 'policy_denied' })

    gate.approve('appr-1', { amount: 40 })
    // The refusal was not stored under the key: the resumed call runs, with the edited input.
    const resumed = await call(
      d,
      'test.transfer',
      { input: { amount: 50 }, approval_id: 'appr-1' },
      { 'idempotency-key': 'pay-1' },
    )
    expect(resumed.statusCode).toBe(200)
    expect(resumed.json().output).toEqual({ moved: 40 })
    expect((await recordsOf(d, resumed.json().trace_id))[0]?.payload).toMatchObject({
      outcome: 'ok',
      approval_id: 'appr-1',
      input: { amount: 40 },
    })
    // A retry under the same key replays that answer instead of asking again.
    const retry = await call(d, 'test.transfer', { input: { amount: 50 } }, { 'idempotency-key': 'pay-1' })
    expect(retry.statusCode).toBe(200)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.json().output).toEqual({ moved: 40 })
  })

  it('gives the gate the caller signal and a deadline, so a waiting call never outlives its caller', async () => {
    let seen: ApprovalRequest | undefined
    const waiting: ApprovalGate = {
      request: (request) => {
        seen = request
        return new Promise((_, reject) => {
          request.signal.addEventListener('abort', () =>
            reject(new ProblemError(ERRORS.cancelled, { tool: request.tool.id })),
          )
        })
      },
    }
    d = await testDaemon({
      extraTools: [transfer],
      policy: [ask],
      approvals: waiting,
      config: { approvalWaitMs: 60_000 },
    })
    const controller = new AbortController()
    const before = Date.now()
    const pending = d.app.arw.pipeline.invoke({
      ref: 'test.transfer',
      input: { amount: 1 },
      principal: { kind: 'admin', id: 'admin' },
      trace: traceFrom(undefined),
      surface: 'test',
      signal: controller.signal,
    })
    await new Promise((r) => setTimeout(r, 20))
    // Capped by the tool's timeout (30 s default), not the configured wait.
    expect(seen!.deadline).toBeGreaterThanOrEqual(before + 29_000)
    expect(seen!.deadline).toBeLessThanOrEqual(Date.now() + 30_000)
    expect(seen!.signal.aborted).toBe(false)
    controller.abort()
    await expect(pending).rejects.toMatchObject({ problem: { status: 503 } })
    expect(seen!.signal.aborted).toBe(true)
  })
})

describe('settle stages', () => {
  it('settle what a call used, with writes committed with its record', async () => {
    const calls: Array<{ outcome: string; usage: unknown; executed: boolean }> = []
    let ledger: import('@arw/store').Collection<{ tool: string; cost: number }> | undefined
    const costs: SettleStage = {
      id: 'test.costs',
      settle: (call) => {
        calls.push({ outcome: call.outcome, usage: call.usage, executed: call.executed })
        if (!call.executed) return undefined
        return [
          ledger!.putOp(call.request.trace.traceId, { tool: call.tool!.id, cost: call.usage.cost ?? 0 }),
        ]
      },
    }
    d = await testDaemon({ extraTools: [transfer], settle: [costs] })
    ledger = d.app.arw.store.collection({ area: 'test', name: 'ledger' })
    const ok = await call(d, 'test.transfer', { input: { amount: 250 } })
    expect(ok.statusCode).toBe(200)
    expect(await ledger.get(ok.json().trace_id)).toEqual({ tool: 'test.transfer@1.0.0', cost: 2.5 })
    expect((await recordsOf(d, ok.json().trace_id))[0]?.payload).toMatchObject({
      usage: { tokens: 15, cost: 2.5 },
    })
    const bad = await call(d, 'test.transfer', { input: { amount: -1 } })
    expect(bad.statusCode).toBe(400)
    expect(calls).toEqual([
      { outcome: 'ok', usage: { tokens: 15, cost: 2.5 }, executed: true },
      { outcome: 'error', usage: {}, executed: false },
    ])
    expect(await ledger.get(bad.json().trace_id)).toBeUndefined()
  })
})

describe('keyed admission', () => {
  it('limits any key an area configures, with a bounded queue, and refuses past it with Retry-After', async () => {
    const limits = defineArea({
      name: 'limits',
      description: 'Caps what one principal may run at once.',
      start: (ctx) => {
        ctx.admission.configure('principal:admin:admin', { maxConcurrent: 1, maxQueue: 1 })
        ctx.admission.configure('lane:slow', { ratePerSecond: 1, burst: 3 })
        return {
          services: undefined,
          admissionKeys: [(_request, tool) => (tool.name === 'test.slow' ? ['lane:slow'] : undefined)],
        }
      },
    })
    d = await testDaemon({ areas: [...AREAS, limits], extraTools: [slow] })
    const started = Date.now()
    const [a, b, c] = await Promise.all([
      call(d, 'test.slow', { input: { ms: 150 } }),
      call(d, 'test.slow', { input: { ms: 150 } }),
      call(d, 'test.slow', { input: { ms: 150 } }),
    ])
    const statuses = [a, b, c].map((r) => r.statusCode).sort()
    // One runs, one waits for its slot and then runs, the third finds the queue full.
    expect(statuses).toEqual([200, 200, 429])
    const refused = [a, b, c].find((r) => r.statusCode === 429)!
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.json()).toMatchObject({ code: 'rate_limited' })
    // The queued call ran after the first, not beside it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    // The area's own key: a bucket of 3 for the slow lane, 2 of them already taken.
    expect((await call(d, 'test.slow', { input: { ms: 1 } })).statusCode).toBe(200)
    const over = await call(d, 'test.slow', { input: { ms: 1 } })
    expect(over.statusCode).toBe(429)
    expect(over.json().detail).toContain('lane:slow')
    // Other tools do not go through the slow lane.
    expect((await call(d, 'demo.echo', { input: { text: 'x' } })).statusCode).toBe(200)
  })
})
