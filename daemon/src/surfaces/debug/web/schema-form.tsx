import type { JSX } from 'preact'
import {
  arrayLength,
  childPointer,
  constraintHints,
  type Draft,
  defaultOf,
  enumOptions,
  type FieldKind,
  fieldId,
  itemSchema,
  type JsonSchema,
  kindOf,
  propertiesOf,
  rawValue,
  removeArrayItem,
} from './form-model.ts'

interface NodeProps {
  schema: JsonSchema
  pointer: string
  label: string
  required: boolean
  inherited: unknown
  draft: Draft
  setDraft: (update: (draft: Draft) => Draft) => void
  errors: ReadonlyMap<string, string[]>
}

const TYPE_LABEL: Record<FieldKind, string> = {
  string: 'string',
  text: 'string',
  number: 'number',
  integer: 'integer',
  enum: 'one of',
  boolean: 'boolean',
  object: 'object',
  array: 'array',
  json: 'JSON',
}

function ErrorList(props: { id: string; messages: string[] | undefined }) {
  if (!props.messages || props.messages.length === 0) return null
  return (
    <ul id={props.id} class="field-errors">
      {props.messages.map((m, i) => (
        <li key={i}>{m}</li>
      ))}
    </ul>
  )
}

/** The fields of a tool's input, generated from its JSON Schema. */
export function SchemaForm(props: Omit<NodeProps, 'pointer' | 'label' | 'required' | 'inherited'>) {
  const kind = kindOf(props.schema)
  if (kind === 'object' && propertiesOf(props.schema).length === 0) {
    return <p class="muted">This tool takes no input.</p>
  }
  if (kind === 'object') {
    return (
      <div class="fields">
        <Children {...props} pointer="" inherited={undefined} />
      </div>
    )
  }
  return <Node {...props} pointer="" label="input" required inherited={undefined} />
}

function Children(props: Omit<NodeProps, 'label' | 'required'>) {
  const dflt = defaultOf(props.schema, props.inherited)
  return (
    <>
      {propertiesOf(props.schema).map((p) => (
        <Node
          key={p.name}
          {...props}
          schema={p.schema}
          pointer={childPointer(props.pointer, p.name)}
          label={p.schema.title ? `${p.name} (${p.schema.title})` : p.name}
          required={p.required}
          inherited={dflt && typeof dflt === 'object' ? (dflt as Record<string, unknown>)[p.name] : undefined}
        />
      ))}
    </>
  )
}

function Node(props: NodeProps) {
  const { schema, pointer, draft, errors } = props
  const kind = kindOf(schema)
  const id = fieldId(pointer)
  const messages = errors.get(pointer)
  const dflt = defaultOf(schema, props.inherited)
  const hints = constraintHints(schema)
  const describedBy = [
    schema.description ? `${id}-desc` : '',
    hints.length > 0 ? `${id}-hints` : '',
    messages ? `${id}-err` : '',
  ]
    .filter((s) => s !== '')
    .join(' ')
  const set = (value: string | boolean) => props.setDraft((d) => ({ ...d, [pointer]: value }))
  const help = (
    <>
      {schema.description ? (
        <p id={`${id}-desc`} class="help">
          {schema.description}
        </p>
      ) : null}
      {hints.length > 0 ? (
        <p id={`${id}-hints`} class="hints">
          {hints.join(' · ')}
        </p>
      ) : null}
      <ErrorList id={`${id}-err`} messages={messages} />
    </>
  )

  if (kind === 'object' || kind === 'array') {
    return (
      <fieldset class="group" data-pointer={pointer} data-invalid={messages ? 'true' : undefined}>
        <legend>
          {props.label}
          {props.required ? <span class="req"> (required)</span> : null}
          <span class="type">{TYPE_LABEL[kind]}</span>
        </legend>
        {help}
        {kind === 'object' ? <Children {...props} /> : <ArrayItems {...props} inherited={dflt} />}
      </fieldset>
    )
  }

  const raw = rawValue(kind, schema, pointer, draft, dflt, props.required)
  const common = {
    id,
    name: pointer,
    'aria-describedby': describedBy || undefined,
    'aria-invalid': messages ? ('true' as const) : undefined,
    'aria-required': props.required ? ('true' as const) : undefined,
  }
  let control: JSX.Element
  if (kind === 'boolean' && props.required) {
    return (
      <div class="field field-check" data-pointer={pointer} data-invalid={messages ? 'true' : undefined}>
        <input
          type="checkbox"
          {...common}
          checked={raw === true}
          onChange={(e) => set(e.currentTarget.checked)}
        />
        <label for={id}>
          {props.label} <span class="type">boolean</span>
        </label>
        {help}
      </div>
    )
  }
  if (kind === 'boolean') {
    control = (
      <select {...common} value={String(raw)} onChange={(e) => set(e.currentTarget.value)}>
        <option value="">(not set)</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    )
  } else if (kind === 'enum') {
    const options = enumOptions(schema) ?? []
    control = (
      <select {...common} value={String(raw)} onChange={(e) => set(e.currentTarget.value)}>
        {props.required ? null : <option value="">(not set)</option>}
        {options.map((o, i) => (
          <option key={i} value={String(i)}>
            {o.label}
          </option>
        ))}
      </select>
    )
  } else if (kind === 'text' || kind === 'json') {
    control = (
      <textarea
        {...common}
        rows={kind === 'json' ? 4 : 3}
        spellcheck={false}
        class={kind === 'json' ? 'mono' : undefined}
        value={String(raw)}
        onInput={(e) => set(e.currentTarget.value)}
      />
    )
  } else {
    const numeric = kind === 'number' || kind === 'integer'
    control = (
      <input
        type="text"
        {...common}
        inputMode={numeric ? (kind === 'integer' ? 'numeric' : 'decimal') : undefined}
        placeholder={schema.format === 'date-time' ? '2025-01-31T12:00:00Z' : undefined}
        autoComplete="off"
        spellcheck={false}
        value={String(raw)}
        onInput={(e) => set(e.currentTarget.value)}
      />
    )
  }
  return (
    <div class="field" data-pointer={pointer} data-invalid={messages ? 'true' : undefined}>
      <label for={id}>
        {props.label}
        {props.required ? <span class="req"> (required)</span> : null}
        <span class="type">{TYPE_LABEL[kind]}</span>
      </label>
      {control}
      {help}
    </div>
  )
}

function ArrayItems(props: NodeProps) {
  const { schema, pointer, draft } = props
  const n = arrayLength(schema, pointer, draft, props.inherited)
  const item = itemSchema(schema)
  const items = []
  for (let i = 0; i < n; i++) {
    const itemPointer = childPointer(pointer, i)
    items.push(
      <li key={i} class="array-item">
        <Node
          {...props}
          schema={item}
          pointer={itemPointer}
          label={`${props.label}[${i}]`}
          required
          inherited={Array.isArray(props.inherited) ? props.inherited[i] : undefined}
        />
        <button
          type="button"
          class="small"
          onClick={() => props.setDraft((d) => removeArrayItem(d, pointer, i, n))}
          aria-label={`Remove ${props.label}[${i}]`}
        >
          Remove
        </button>
      </li>,
    )
  }
  return (
    <>
      {n > 0 ? <ol class="array-items">{items}</ol> : <p class="muted">No items.</p>}
      <button
        type="button"
        class="small"
        onClick={() => props.setDraft((d) => ({ ...d, [`${pointer}#n`]: n + 1 }))}
      >
        Add item to {props.label}
      </button>
    </>
  )
}
