import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { Api, InvokeResult, Problem, ToolSchemas, ToolSummary } from './api.ts'
import {
  buildInput,
  type ClientError,
  type Draft,
  fieldId,
  type JsonSchema,
  placeErrors,
  renderedPointers,
} from './form-model.ts'
import { SchemaForm } from './schema-form.tsx'
import type { StreamEvent } from './stream.ts'
import { Badge, formatTime, JsonBlock, ProblemView, TraceLink, traceHref } from './ui.tsx'

const RISK_TONE: Record<string, string> = {
  low: 'ok',
  medium: 'warning',
  high: 'error',
  critical: 'critical',
}
const STABILITY_TONE: Record<string, string> = { stable: 'ok', experimental: 'info', deprecated: 'warning' }

function matches(tool: ToolSummary, query: string): boolean {
  if (query === '') return true
  const hay = `${tool.id} ${tool.title} ${tool.description} ${tool.capabilities.join(' ')}`.toLowerCase()
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '')
    .every((w) => hay.includes(w))
}

export function ToolsPanel(props: {
  api: Api
  tools: ToolSummary[] | undefined
  toolsProblem: Problem | undefined
  /** The daemon asked for the admin token (the banner says so; the list just waits for it). */
  needsToken: boolean
  selected: string | undefined
  events: readonly StreamEvent[]
  onProblem: (problem: Problem) => void
}) {
  const [query, setQuery] = useState('')
  const shown = useMemo(
    () => (props.tools ?? []).filter((t) => matches(t, query.trim())),
    [props.tools, query],
  )
  const selected = props.tools?.find((t) => t.id === props.selected)
  return (
    <div class="tools-layout">
      <section class="tool-list-pane" aria-labelledby="tools-heading">
        <h2 id="tools-heading">Tools</h2>
        <label for="tool-search" class="visually-hidden">
          Search tools
        </label>
        <input
          id="tool-search"
          type="search"
          placeholder="Search tools"
          autoComplete="off"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        {props.toolsProblem ? (
          <ProblemView problem={props.toolsProblem} heading="Tools could not be listed" />
        ) : null}
        {props.tools === undefined && !props.toolsProblem ? (
          <p class="muted">{props.needsToken ? 'Enter the admin token to list the tools.' : 'Loading…'}</p>
        ) : null}
        <p class="muted count" aria-live="polite">
          {props.tools ? `${shown.length} of ${props.tools.length} tools` : ''}
        </p>
        <ul class="tool-list">
          {shown.map((t) => (
            <li key={t.id}>
              <a
                href={`#/tools/${t.id}`}
                aria-current={t.id === props.selected ? 'true' : undefined}
                data-tool={t.id}
              >
                <span class="tool-name">{t.name}</span>
                <span class="tool-version">@{t.version}</span>
                <span class="tool-badges">
                  <Badge tone={STABILITY_TONE[t.stability] ?? 'info'}>{t.stability}</Badge>
                  <Badge tone={RISK_TONE[t.risk] ?? 'info'}>risk {t.risk}</Badge>
                </span>
                <span class="tool-title">{t.title}</span>
              </a>
            </li>
          ))}
        </ul>
      </section>
      <section class="tool-detail-pane" aria-label="Selected tool">
        {selected ? (
          <ToolDetail
            key={selected.id}
            api={props.api}
            tool={selected}
            events={props.events}
            onProblem={props.onProblem}
          />
        ) : (
          <p class="muted placeholder">Choose a tool to see its declaration and call it.</p>
        )}
      </section>
    </div>
  )
}

type Call =
  | { state: 'idle' }
  | { state: 'running' }
  | { state: 'ok'; result: InvokeResult }
  | { state: 'problem'; problem: Problem }
  | { state: 'client'; errors: ClientError[] }

function yesNo(value: boolean | undefined): string {
  return value === undefined ? 'unspecified' : value ? 'yes' : 'no'
}

function ToolDetail(props: {
  api: Api
  tool: ToolSummary
  events: readonly StreamEvent[]
  onProblem: (problem: Problem) => void
}) {
  const { tool, api } = props
  const [schemas, setSchemas] = useState<ToolSchemas | Problem | undefined>()
  const [draft, setDraft] = useState<Draft>({})
  const [call, setCall] = useState<Call>({ state: 'idle' })
  const [jsonMode, setJsonMode] = useState(false)
  const [jsonText, setJsonText] = useState('')
  const resultRef = useRef<HTMLDivElement>(null)

  useEffect(() => {
    let live = true
    void api.schemas(tool.id).then((r) => {
      if (!live) return
      if (r.ok) setSchemas(r.value)
      else {
        setSchemas(r.problem)
        props.onProblem(r.problem)
      }
    })
    return () => {
      live = false
    }
  }, [tool.id])

  const input = schemas && 'input' in schemas ? (schemas.input as JsonSchema) : undefined
  const problem = call.state === 'problem' ? call.problem : undefined
  const fieldErrors = useMemo(() => {
    if (!input) return new Map<string, string[]>()
    const rendered = renderedPointers(input, draft)
    if (call.state === 'client')
      return placeErrors(
        call.errors.map((e) => ({ ...e, pointer: `/input${e.pointer}` })),
        rendered,
      )
    if (problem?.errors) return placeErrors(problem.errors, rendered)
    return new Map<string, string[]>()
  }, [input, draft, call])

  // After a problem, move focus to the first field it names so keyboard users land on it. A layout
  // effect: focus moves with the render that shows the errors, not a frame later.
  useLayoutEffect(() => {
    if (call.state !== 'problem' && call.state !== 'client') return
    for (const pointer of fieldErrors.keys()) {
      const el = document.getElementById(fieldId(pointer))
      if (el && pointer !== '') {
        el.focus()
        return
      }
    }
    resultRef.current?.focus()
  }, [call])

  const submit = async (event: Event) => {
    event.preventDefault()
    if (!input) return
    let value: unknown
    if (jsonMode) {
      try {
        value = jsonText.trim() === '' ? {} : JSON.parse(jsonText)
      } catch (error) {
        setCall({
          state: 'client',
          errors: [{ pointer: '', message: `Input is not valid JSON: ${(error as Error).message}` }],
        })
        return
      }
    } else {
      const built = buildInput(input, draft)
      if (built.errors.length > 0) {
        setCall({ state: 'client', errors: built.errors })
        return
      }
      value = built.input
    }
    setCall({ state: 'running' })
    const r = await api.invoke(tool.id, value)
    if (r.ok) setCall({ state: 'ok', result: r.value })
    else {
      setCall({ state: 'problem', problem: r.problem })
      props.onProblem(r.problem)
    }
  }

  const examples = schemas && 'input' in schemas ? (schemas.examples ?? []) : []
  // An example goes into the JSON editor as is (the form cannot show every input a schema allows).
  const useExample = (example: { input: unknown }) => {
    setJsonText(JSON.stringify(example.input, null, 2))
    setJsonMode(true)
    setCall({ state: 'idle' })
  }

  const toggleJson = () => {
    if (!jsonMode && input) setJsonText(JSON.stringify(buildInput(input, draft).input, null, 2))
    setJsonMode(!jsonMode)
  }

  const traceId = call.state === 'ok' ? call.result.trace_id : problem?.trace_id
  const callEvents = traceId ? props.events.filter((e) => e.trace_id === traceId) : []
  const formErrors = fieldErrors.get('')

  return (
    <article class="tool-detail" aria-labelledby="tool-heading">
      <header class="tool-header">
        <h2 id="tool-heading">{tool.title}</h2>
        <p class="tool-id">
          <code>{tool.id}</code>
          {tool.current ? <Badge tone="info">current</Badge> : null}
          <Badge tone={STABILITY_TONE[tool.stability] ?? 'info'}>{tool.stability}</Badge>
          <Badge tone={RISK_TONE[tool.risk] ?? 'info'}>risk {tool.risk}</Badge>
        </p>
        <p class="description">{tool.description}</p>
      </header>
      <dl class="facts">
        <dt>read-only</dt>
        <dd>{yesNo(tool.hints.readOnly)}</dd>
        <dt>destructive</dt>
        <dd>{yesNo(tool.hints.destructive)}</dd>
        <dt>idempotent</dt>
        <dd>{yesNo(tool.hints.idempotent)}</dd>
        <dt>open world</dt>
        <dd>{yesNo(tool.hints.openWorld)}</dd>
        <dt>capabilities</dt>
        <dd>{tool.capabilities.length > 0 ? tool.capabilities.join(', ') : 'none'}</dd>
        <dt>timeout</dt>
        <dd>{tool.timeout_ms} ms</dd>
        <dt>declared errors</dt>
        <dd>{tool.errors.length > 0 ? tool.errors.join(', ') : 'none'}</dd>
        {tool.deprecation ? (
          <>
            <dt>deprecation</dt>
            <dd>
              {[
                tool.deprecation.since ? `since ${tool.deprecation.since}` : '',
                tool.deprecation.sunset ? `sunset ${tool.deprecation.sunset}` : '',
                tool.deprecation.replacement ? `use ${tool.deprecation.replacement}` : '',
              ]
                .filter((s) => s !== '')
                .join(' · ') || 'deprecated'}
            </dd>
          </>
        ) : null}
      </dl>

      {schemas === undefined ? <p class="muted">Loading schema…</p> : null}
      {schemas && !('input' in schemas) ? (
        <ProblemView problem={schemas} heading="Schema could not be loaded" />
      ) : null}
      {input ? (
        <form
          class="invoke-form"
          noValidate
          onSubmit={submit}
          aria-labelledby="form-heading"
          aria-describedby="form-keys"
          onKeyDown={(e) => {
            // Ctrl+Enter (⌘+Enter) invokes from any field, text areas included.
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault()
              e.currentTarget.requestSubmit()
            }
          }}
        >
          <div class="form-head">
            <h3 id="form-heading">Input</h3>
            <button type="button" class="small" aria-pressed={jsonMode} onClick={toggleJson}>
              {jsonMode ? 'Edit as form' : 'Edit as JSON'}
            </button>
          </div>
          {examples.length > 0 ? (
            <p class="examples">
              Examples:{' '}
              {examples.map((example, i) => (
                <button
                  key={i}
                  type="button"
                  class="small"
                  data-testid={`example-${i + 1}`}
                  onClick={() => useExample(example)}
                >
                  {example.title ?? `example ${i + 1}`}
                </button>
              ))}
            </p>
          ) : null}
          {jsonMode ? (
            <div class="field" data-pointer="">
              <label for="input-json">Input JSON</label>
              <textarea
                id="input-json"
                class="mono"
                rows={10}
                spellcheck={false}
                value={jsonText}
                onInput={(e) => setJsonText(e.currentTarget.value)}
              />
            </div>
          ) : (
            <SchemaForm schema={input} draft={draft} setDraft={setDraft} errors={fieldErrors} />
          )}
          {formErrors ? (
            <ul class="field-errors form-errors" data-pointer="">
              {formErrors.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          ) : null}
          <p id="form-keys" class="muted keys">
            Ctrl+Enter invokes from any field.
          </p>
          <div class="actions">
            <button type="submit" class="primary" disabled={call.state === 'running'}>
              {call.state === 'running' ? 'Invoking…' : `Invoke ${tool.name}`}
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft({})
                setCall({ state: 'idle' })
              }}
            >
              Reset
            </button>
          </div>
        </form>
      ) : null}

      <div class="result" ref={resultRef} tabIndex={-1} aria-live="polite">
        {call.state === 'ok' ? (
          <section class="success" aria-labelledby="result-heading">
            <h3 id="result-heading">
              Result <Badge tone="ok">ok</Badge>
            </h3>
            <p class="meta">
              <code>{call.result.tool}</code> in {call.result.duration_ms} ms · trace{' '}
              <TraceLink traceId={call.result.trace_id} />
            </p>
            <JsonBlock value={call.result.output} label="Output" />
          </section>
        ) : null}
        {problem ? <ProblemView problem={problem} /> : null}
        {call.state === 'client' ? (
          <p class="problem" role="alert">
            Nothing was sent: fix the fields marked above.
          </p>
        ) : null}
        {traceId ? (
          <section class="call-events" aria-labelledby="call-events-heading">
            <h3 id="call-events-heading">
              Events of this call <span class="muted">({callEvents.length}, live)</span>
            </h3>
            {callEvents.length === 0 ? <p class="muted">Waiting for events…</p> : null}
            <ul>
              {callEvents.map((e) => (
                <li key={e.id} data-event-id={e.id} data-kind={e.kind}>
                  <span class="event-id">#{e.id}</span> <span class="event-time">{formatTime(e.time)}</span>{' '}
                  <strong>{e.kind}</strong> {summarize(e)}
                </li>
              ))}
            </ul>
            <p>
              <a href={traceHref(traceId)}>Open in the Events panel</a>
            </p>
          </section>
        ) : null}
      </div>
    </article>
  )
}

export function summarize(e: StreamEvent): string {
  const p = e.payload as Record<string, unknown> | undefined
  if (e.kind === 'tool.ran' && p) {
    const code = p['code'] ? ` (${String(p['code'])})` : ''
    return `${String(p['tool'])} ${String(p['outcome'])}${code} in ${String(p['duration_ms'])} ms via ${String(p['surface'])}`
  }
  return ''
}
