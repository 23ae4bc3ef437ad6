import {type ZodError} from 'zod'

/** zod's issues as one-line "field: problem" strings, the form every pxeroot error takes. */
export function zodProblems(error: ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.join('.') || '(top level)'
    if (issue.code === 'unrecognized_keys') return `${field === '(top level)' ? '' : field + ': '}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}; check the spelling`
    if (issue.code === 'invalid_type' && issue.received === 'undefined') return `${field}: is required`
    return `${field}: ${issue.message}`
  })
}
