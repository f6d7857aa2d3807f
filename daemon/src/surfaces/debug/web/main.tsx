import { render } from 'preact'
import { App } from './app.tsx'

const root = document.getElementById('app')
if (root) {
  // The "Loading…" placeholder is replaced, not kept beside the app.
  root.replaceChildren()
  render(<App />, root)
}
