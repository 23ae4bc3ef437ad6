import {createRequire} from 'node:module'
import {z, type ZodError, type ZodTypeAny} from 'zod'

import {UserError} from '../errors.js'
import {plainYaml} from './plain-yaml.js'
import {closest} from './suggest.js'

const require = createRequire(import.meta.url)

/** The `yaml` library, loaded on first use (synchronously: it is CommonJS): a plain file is read
 * without it (plain-yaml.ts), so `nodes list` and `status` do not pay ~12 ms of CPU to load it. */
export function yamlLibrary(): typeof import('yaml') {
  return require('yaml') as typeof import('yaml')
}

type Path = readonly (string | number)[]

/** The object schema found at `path` (through defaults, optionals, arrays and records), for its field names. */
function objectAt(schema: ZodTypeAny, path: Path): z.AnyZodObject | undefined {
  let s: ZodTypeAny = schema
  for (let i = 0; ; i++) {
    while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodEffects) {
      s = s instanceof z.ZodEffects ? s.innerType() : s._def.innerType
    }
    if (i === path.length) return s instanceof z.ZodObject ? s : undefined
    if (s instanceof z.ZodObject) s = s.shape[path[i]]
    else if (s instanceof z.ZodArray) s = s.element
    else if (s instanceof z.ZodRecord) s = s.valueSchema
    else return undefined
    if (!s) return undefined
  }
}

/** What to say about a field nobody knows: the one it most likely was, or the ones there are. */
function unknownField(key: string, known: readonly string[]): string {
  const guess = closest(key, known)
  if (guess) return `unknown field ${key}; did you mean ${guess}?`
  return known.length > 0 ? `unknown field ${key}; the fields are ${known.join(', ')}` : `unknown field ${key}; check the spelling`
}

/** The line (from 1) of the YAML node at `path`, or of the key `key` in the mapping there; a missing node falls back to its parent. */
export type LineOf = (path: Path, key?: string) => number | undefined

export function yamlLines(text: string): LineOf {
  const {isMap, isScalar, LineCounter, parseDocument} = yamlLibrary()
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter})
  return (path, key) => {
    for (let n = path.length; n >= 0; n--) {
      let node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
      if (key !== undefined && n === path.length && isMap(node)) node = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key)?.key ?? node
      const offset = (node as {range?: [number, number, number]} | undefined)?.range?.[0]
      if (offset !== undefined) return lineCounter.linePos(offset).line
    }
    return undefined
  }
}

/**
 * zod's issues as one-line "field: problem" strings, the form every pxeroot error takes; with the
 * schema, an unknown field gets a "did you mean", and with the file's lines, each its line.
 */
export function zodProblems(error: ZodError, options: {schema?: ZodTypeAny, lineOf?: LineOf} = {}): string[] {
  const at = (path: Path, key?: string) => {
    const line = options.lineOf?.(path, key)
    return line === undefined ? '' : `line ${line}: `
  }
  return error.issues.flatMap((issue) => {
    const field = issue.path.join('.') || '(top level)'
    if (issue.code === 'unrecognized_keys') {
      const known = Object.keys((options.schema && objectAt(options.schema, issue.path))?.shape ?? {})
      return issue.keys.map((key) => `${at(issue.path, key)}${issue.path.length === 0 ? '' : field + ': '}${unknownField(key, known)}`)
    }
    if (issue.code === 'invalid_type' && issue.received === 'undefined') return [`${at(issue.path)}${field}: is required`]
    return [`${at(issue.path)}${field}: ${issue.message}`]
  })
}

/** A YAML file's data; a syntax error is one "source: line N, column M: not valid YAML: what" line. */
export function readYaml(text: string, source: string): unknown {
  const plain = plainYaml(text)
  if (plain !== undefined) return plain
  const doc = yamlLibrary().parseDocument(text)
  const error = doc.errors[0]
  if (error) {
    const at = error.linePos?.[0]
    const what = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
    throw new UserError(`${source}: ${at ? `line ${at.line}, column ${at.col}: ` : ''}not valid YAML: ${what}`)
  }
  try {
    return doc.toJS()
  } catch (e) {
    // An alias to no anchor, or aliases past the library's limit (a "billion laughs" file).
    throw new UserError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`)
  }
}

/** Data read from a YAML file checked against its schema; every problem is one "source: line N: field: problem" line. */
export function checkYamlData<S extends ZodTypeAny>(schema: S, data: unknown, text: string, source: string): z.output<S> {
  const parsed = schema.safeParse(data ?? {})
  if (!parsed.success) throw new UserError(`${source}: ${zodProblems(parsed.error, {schema, lineOf: yamlLines(text)}).join('; ')}`)
  return parsed.data
}

/** A YAML file's text checked against its schema. */
export function parseYamlFile<S extends ZodTypeAny>(schema: S, text: string, source: string): z.output<S> {
  return checkYamlData(schema, readYaml(text, source), text, source)
}
