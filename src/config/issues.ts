import jsYaml from 'js-yaml'
import {type ZodError, type ZodTypeAny, type z} from 'zod'

import {UserError} from '../errors.js'

/** zod's issues as one-line "field: problem" strings, the form every pxeroot error takes. */
export function zodProblems(error: ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.join('.') || '(top level)'
    if (issue.code === 'unrecognized_keys') return `${field === '(top level)' ? '' : field + ': '}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}; check the spelling`
    if (issue.code === 'invalid_type' && issue.received === 'undefined') return `${field}: is required`
    return `${field}: ${issue.message}`
  })
}

/** A YAML file's text checked against its schema; every problem is one "source: field: problem" line. */
export function parseYamlFile<S extends ZodTypeAny>(schema: S, text: string, source: string): z.output<S> {
  let data: unknown
  try {
    data = jsYaml.load(text)
  } catch (error) {
    throw new UserError(`${source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = schema.safeParse(data ?? {})
  if (!parsed.success) throw new UserError(`${source}: ${zodProblems(parsed.error).join('; ')}`)
  return parsed.data
}
