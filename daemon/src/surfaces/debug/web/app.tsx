import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { Api, type Problem, type ToolSummary } from './api.ts'
import { EventsPanel } from './events.tsx'
import { StatsPanel } from './stats.tsx'
import { EventStream, type StreamEvent, type StreamState } from './stream.ts'
import { ToolsPanel } from './tools.tsx'

/** sessionStorage key of the admin token: kept for this tab's session only, never put in a URL. */
export const TOKEN_KEY = 'arw.debug.adminToken'
/** Journal events replayed when the page opens, and events kept in memory. */
const REPLAY = 500
const KEEP = 5000

type Route = { panel: 'tools'; tool?: string } | { panel: 'events'; trace?: string } | { panel: 'stats' }

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/')
  if (parts[0] === 'events') {
    return parts[1] === 'trace' && parts[2] && /^[0-9a-f]{32}$/.test(parts[2])
      ? { panel: 'events', trace: parts[2] }
      : { panel: 'events' }
  }
  if (parts[0] === 'stats') return { panel: 'stats' }
  const tool = parts.slice(1).join('/')
  return tool ? { panel: 'tools', tool: decodeURIComponent(tool) } : { panel: 'tools' }
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

function readToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? ''
  } catch {
    return ''
  }
}

/** The live event buffer, shared by every panel; renders are batched so a burst costs one render. */
function useEvents(token: () => string | undefined) {
  const buffer = useRef<StreamEvent[]>([])
  const [, setVersion] = useState(0)
  const [state, setState] = useState<StreamState>({
    status: 'connecting',
    lastId: null,
    reconnects: 0,
    gapNotices: 0,
    missing: 0,
  })
  const latest = useRef(state)
  const scheduled = useRef(false)
  const schedule = () => {
    if (scheduled.current) return
    scheduled.current = true
    setTimeout(() => {
      scheduled.current = false
      setState(latest.current)
      setVersion((v) => v + 1)
    }, 30)
  }
  const stream = useMemo(
    () =>
      new EventStream({
        base: '',
        token,
        replay: REPLAY,
        onEvent: (e) => {
          buffer.current.push(e)
          if (buffer.current.length > KEEP) buffer.current.splice(0, buffer.current.length - KEEP)
          schedule()
        },
        onState: (s) => {
          latest.current = s
          schedule()
        },
      }),
    [],
  )
  useEffect(() => {
    stream.start()
    return () => stream.stop()
  }, [])
  return {
    events: buffer.current,
    state,
    stream,
    clear: () => {
      buffer.current = []
      setVersion((v) => v + 1)
    },
  }
}

function StreamBadge(props: { state: StreamState }) {
  const s = props.state
  const text =
    s.status === 'open'
      ? `live${s.lastId !== null ? ` · #${s.lastId}` : ''}`
      : s.status === 'unauthorized'
        ? 'needs token'
        : s.status
  return (
    <span class={`stream-badge stream-${s.status}`} role="status" aria-label={`Event stream: ${text}`}>
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  )
}

function TokenForm(props: {
  token: string
  onSave: (token: string) => void
  inputRef: { current: HTMLInputElement | null }
}) {
  const [value, setValue] = useState('')
  if (props.token) {
    return (
      <div class="token-form">
        <span class="muted">Admin token set for this session</span>
        <button type="button" class="small" onClick={() => props.onSave('')}>
          Forget token
        </button>
      </div>
    )
  }
  return (
    <form
      class="token-form"
      onSubmit={(e) => {
        e.preventDefault()
        if (value.trim() !== '') props.onSave(value.trim())
        setValue('')
      }}
    >
      <label for="admin-token">Admin token</label>
      <input
        id="admin-token"
        ref={props.inputRef}
        type="password"
        autoComplete="off"
        spellcheck={false}
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit" class="small">
        Use token
      </button>
    </form>
  )
}

function isAuthProblem(p: Problem): boolean {
  return p.status === 401 || p.status === 403 || p.code === 'unauthorized'
}

export function App() {
  const [token, setToken] = useState(readToken)
  const tokenRef = useRef(token)
  tokenRef.current = token
  const tokenInput = useRef<HTMLInputElement | null>(null)
  const api = useMemo(() => new Api('', () => tokenRef.current || undefined), [])
  const route = useRoute()
  const { events, state, stream, clear } = useEvents(() => tokenRef.current || undefined)
  const [paused, setPaused] = useState(false)
  const [tools, setTools] = useState<ToolSummary[] | undefined>()
  const [toolsProblem, setToolsProblem] = useState<Problem | undefined>()
  const [authProblem, setAuthProblem] = useState<Problem | undefined>()

  const onProblem = (p: Problem) => {
    if (isAuthProblem(p)) setAuthProblem(p)
  }

  useEffect(() => {
    let live = true
    setToolsProblem(undefined)
    void api.tools().then((r) => {
      if (!live) return
      if (r.ok) {
        setTools(r.value)
        setAuthProblem(undefined)
      } else {
        setTools(undefined)
        setToolsProblem(r.problem)
        onProblem(r.problem)
      }
    })
    return () => {
      live = false
    }
  }, [token])

  useEffect(() => {
    if (state.status === 'unauthorized')
      setAuthProblem({ title: state.message ?? 'Unauthorized', status: 401 })
  }, [state.status])

  useEffect(() => {
    if (authProblem && !token) tokenInput.current?.focus()
  }, [authProblem])

  const saveToken = (next: string) => {
    try {
      if (next) sessionStorage.setItem(TOKEN_KEY, next)
      else sessionStorage.removeItem(TOKEN_KEY)
    } catch {
      // Storage disabled: the token lives in memory for this page only.
    }
    tokenRef.current = next
    setToken(next)
    setAuthProblem(undefined)
    if (!paused) stream.start()
  }

  // With no tool chosen, the first one is shown so the panel is never empty.
  const selected = route.panel === 'tools' ? (route.tool ?? tools?.[0]?.id) : undefined

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>
          ARW <span class="muted">debug</span>
        </h1>
        <nav aria-label="Panels">
          <a href="#/tools" aria-current={route.panel === 'tools' ? 'page' : undefined}>
            Tools
          </a>
          <a href="#/events" aria-current={route.panel === 'events' ? 'page' : undefined}>
            Events <span class="count-pill">{events.length}</span>
          </a>
          <a href="#/stats" aria-current={route.panel === 'stats' ? 'page' : undefined}>
            Stats
          </a>
        </nav>
        <StreamBadge state={state} />
        <TokenForm token={token} onSave={saveToken} inputRef={tokenInput} />
      </header>
      {authProblem ? (
        <div class="banner" role="alert">
          <strong>The daemon needs the admin token.</strong> {authProblem.detail ?? authProblem.title}. Enter
          it above; it is kept for this browser tab's session only.
        </div>
      ) : null}
      <main id="main" tabIndex={-1}>
        {route.panel === 'tools' ? (
          <ToolsPanel
            api={api}
            tools={tools}
            toolsProblem={toolsProblem && !isAuthProblem(toolsProblem) ? toolsProblem : undefined}
            needsToken={authProblem !== undefined}
            selected={selected}
            events={events}
            onProblem={onProblem}
          />
        ) : null}
        {route.panel === 'events' ? (
          <EventsPanel
            api={api}
            events={events}
            state={state}
            trace={route.trace}
            paused={paused}
            onPause={() => {
              setPaused(true)
              stream.pause()
            }}
            onResume={() => {
              setPaused(false)
              stream.start()
            }}
            onReconnect={() => {
              setPaused(false)
              stream.start()
            }}
            onClear={clear}
          />
        ) : null}
        {route.panel === 'stats' ? <StatsPanel api={api} events={events} /> : null}
      </main>
    </>
  )
}
