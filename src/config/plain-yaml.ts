/**
 * The data of a YAML file written in the plain style pxeroot writes and most hand edits keep (block
 * mappings and sequences, one-line flow collections, plain, single- and double-quoted one-line
 * scalars, comments), without the `yaml` library: loading it and running its parser cold, even on
 * a three-line site file, cost ~30 ms of CPU (garbage collection included) of every `nodes list`,
 * `status` and cron run; and 1,000 nodes of hand-edited inventory are read in ~25 ms, not ~0.25 s.
 *
 * Anything outside that style (anchors, tags, block scalars, multi-line scalars, floats, unusual
 * numbers, keys that are not plain words, tabs, several documents...) gives undefined, and the
 * caller asks the `yaml` library, which also says where a broken file is broken. What this does
 * return is what `YAML.parse` returns for the same text (YAML 1.2, core schema; see the
 * differential test in test/config/plain-yaml.unit.test.ts).
 */
export function plainYaml(text: string): Record<string, unknown> | undefined {
  // Tabs, carriage returns, other control characters, a byte-order mark and Unicode line breaks:
  // each has its own rules in YAML.
  if (/[\0-\x08\t\v\f\r\x0e-\x1f\x7f\x85\u2028\u2029\ufeff]/.test(text)) return undefined
  const lines: Line[] = []
  for (const raw of text.split('\n')) {
    const content = raw.trimStart()
    // Blank, a comment, or a directive or document marker (left to the library).
    if (content === '' || content.startsWith('#')) continue
    if (raw.startsWith('---') || raw.startsWith('...') || raw.startsWith('%')) return undefined
    lines.push({indent: raw.length - content.length, content: content.trimEnd()})
  }
  if (lines.length === 0 || lines[0].indent !== 0 || isItem(lines[0].content)) return undefined
  try {
    const reader = new Reader(lines)
    const data = reader.block(0)
    return reader.at === lines.length ? data as Record<string, unknown> : undefined
  } catch (error) {
    if (error === OUTSIDE) return undefined
    throw error
  }
}

interface Line {
  indent: number
  content: string
}

/** Thrown to give up: the text is not in the plain style (or is not valid YAML). */
const OUTSIDE = Symbol('outside the plain style')

function outside(): never {
  throw OUTSIDE
}

/** Keys are plain words, none that the core schema reads as null or a boolean. */
const WORD = '[A-Za-z_][A-Za-z0-9_-]*'
const NOT_KEY = /^(?:[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE|__proto__)$/
/** `key:` alone or `key: value` (the value with its comment, if any). */
const ENTRY = new RegExp(`^(${WORD}):(?: +(.*))?$`)
/** A flow mapping's `key: `. */
const FLOW_KEY = new RegExp(`^${WORD}(?=: )`)
/** The core schema's null, numbers (every form: only plain decimal integers are read here). */
const NULL = /^(?:~|[Nn]ull|NULL)$/
const INTEGER = /^-?(?:0|[1-9][0-9]{0,14})$/
const NUMBERISH = /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/

const isItem = (content: string) => content === '-' || content.startsWith('- ')

class Reader {
  at = 0
  constructor(private readonly lines: Line[]) {}

  /** The mapping or sequence whose first line is the next one, at `indent`. */
  block(indent: number): unknown {
    return isItem(this.lines[this.at].content) ? this.sequence(indent) : this.mapping(indent)
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    while (this.at < this.lines.length && this.lines[this.at].indent === indent && !isItem(this.lines[this.at].content)) {
      const line = this.lines[this.at++]
      const entry = ENTRY.exec(line.content) ?? outside()
      const key = entry[1]
      if (NOT_KEY.test(key) || Object.hasOwn(out, key)) outside()
      const rest = entry[2] === undefined ? '' : stripComment(entry[2])
      if (rest !== '') out[key] = inlineValue(rest)
      else {
        const next = this.lines[this.at]
        // A nested block, a sequence at the key's own indentation, or nothing (null).
        if (next && next.indent > indent) out[key] = this.block(next.indent)
        else if (next && next.indent === indent && isItem(next.content)) out[key] = this.sequence(indent)
        else out[key] = null
      }
      this.expectEnd(indent)
    }
    return out
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = []
    while (this.at < this.lines.length && this.lines[this.at].indent === indent && isItem(this.lines[this.at].content)) {
      const line = this.lines[this.at]
      const rest = line.content.slice(1).trimStart()
      if (rest === '' || rest.startsWith('#')) outside()
      if (ENTRY.test(rest) || isItem(rest)) {
        // "- key: value" or "- - x": a block whose first line starts where the item's content does.
        this.lines[this.at] = {indent: indent + line.content.length - rest.length, content: rest}
        out.push(this.block(this.lines[this.at].indent))
      } else {
        this.at++
        out.push(inlineValue(stripComment(rest)))
      }
      this.expectEnd(indent)
    }
    return out
  }

  /** After an entry or item at `indent`, the next line is back at it or further out, never deeper. */
  private expectEnd(indent: number): void {
    const next = this.lines[this.at]
    if (next && next.indent > indent) outside()
  }
}

/** A flow collection or a quoted scalar: read by FlowReader, comment and all. */
const startsFlow = (text: string) => /^["'[{]/.test(text)

/** A value's text without its comment (" #"); a flow collection's or quoted scalar's is left to FlowReader. */
function stripComment(text: string): string {
  if (text.startsWith('#')) return ''
  if (startsFlow(text)) return text
  const hash = text.search(/\s#/)
  return (hash === -1 ? text : text.slice(0, hash)).trimEnd()
}

/** A value on one line in block context: a flow collection, a quoted scalar or a plain one. */
function inlineValue(text: string): unknown {
  if (!startsFlow(text)) return plainScalar(text, false)
  const reader = new FlowReader(text)
  const value = reader.value()
  reader.end()
  return value
}

class FlowReader {
  pos = 0
  constructor(private readonly text: string) {}

  /** Nothing but spaces and a comment left. */
  end(): void {
    const rest = this.text.slice(this.pos)
    if (rest.trim() !== '' && !/^\s+#/.test(rest)) outside()
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ') this.pos++
  }

  private collection(): unknown {
    const open = this.text[this.pos++]
    const close = open === '[' ? ']' : '}'
    const seq: unknown[] = []
    const map: Record<string, unknown> = {}
    this.spaces()
    if (this.text[this.pos] === close) {
      this.pos++
      return open === '[' ? seq : map
    }
    for (;;) {
      this.spaces()
      if (open === '[') seq.push(this.value())
      else {
        const key = FLOW_KEY.exec(this.text.slice(this.pos))?.[0] ?? outside()
        if (NOT_KEY.test(key) || Object.hasOwn(map, key)) outside()
        this.pos += key.length + 2
        this.spaces()
        map[key] = this.value()
      }
      this.spaces()
      const c = this.text[this.pos++]
      if (c === close) return open === '[' ? seq : map
      // A trailing comma, or anything but a comma between entries.
      if (c !== ',') outside()
      this.spaces()
      if (this.text[this.pos] === close) outside()
    }
  }

  value(): unknown {
    const c = this.text[this.pos]
    if (c === '[' || c === '{') return this.collection()
    if (c === '"' || c === '\'') return this.quoted()
    const end = this.text.slice(this.pos).search(/[,\]}]/)
    if (end === -1) outside()
    const token = this.text.slice(this.pos, this.pos + end)
    this.pos += end
    return plainScalar(token.trimEnd(), true)
  }

  /** A one-line quoted scalar: double-quoted with JSON's escapes (a subset of YAML's, with the same meaning), or single-quoted. */
  private quoted(): string {
    const q = this.text[this.pos]
    let i = this.pos + 1
    for (; i < this.text.length; i++) {
      if (q === '"' && this.text[i] === '\\') i++
      else if (this.text[i] === q) {
        if (q === '\'' && this.text[i + 1] === '\'') i++
        else break
      }
    }
    if (i >= this.text.length) outside()
    const source = this.text.slice(this.pos, i + 1)
    this.pos = i + 1
    if (q === '\'') return source.slice(1, -1).replaceAll('\'\'', '\'')
    try {
      return JSON.parse(source) as string
    } catch {
      return outside()
    }
  }
}

/** A plain scalar as the core schema reads it: null, true/false, a decimal integer or a string. */
function plainScalar(token: string, inFlow: boolean): unknown {
  if (token === '') outside()
  // An indicator first (a quote would have been read as one), or "- ", "? ", ": ".
  if (/^[[\]{},#&*!|>'"%@`]/.test(token) || /^[-?:](?:\s|$)/.test(token)) outside()
  // A mapping on the line ("a: b"), a key with no value ("a:"); in a flow, a comment or a bracket.
  if (/:(?:\s|$)/.test(token) || (inFlow && /\s#|[[\]{}]/.test(token))) outside()
  if (NULL.test(token)) return null
  if (token === 'true' || token === 'True' || token === 'TRUE') return true
  if (token === 'false' || token === 'False' || token === 'FALSE') return false
  if (INTEGER.test(token)) return Number(token)
  if (NUMBERISH.test(token)) outside()
  return token
}
