import {type ZodTypeAny} from 'zod'

/**
 * A quick yes to "does `schema` accept `value` as it is?", compiled from the zod schema itself (so
 * the schema stays the only statement of the rules). zod v3 builds a context, a path and result
 * objects for every field it checks: at 1,000 nodes that is ~30 ms of CPU (6 MB of garbage to
 * collect) of every `nodes list` and `status`, a fifth of what `nodes list` cost. The answer is
 * true only when zod would accept the value and give it back unchanged (no default filled in, no
 * key stripped, no transform); false means "ask zod", which then accepts (filling in defaults) or
 * says what is wrong. What this does not know (unions, records, transforms, string formats,
 * coercion) is false.
 */
export type QuickCheck = (value: unknown) => boolean

const compiled = new WeakMap<ZodTypeAny, QuickCheck>()

export function quickCheck(schema: ZodTypeAny): QuickCheck {
  let check = compiled.get(schema)
  if (!check) compiled.set(schema, check = compile(schema))
  return check
}

const no: QuickCheck = () => false

/** zod v3's own definitions (its public types do not expose them). */
interface Def {
  typeName: string
  [field: string]: any
}

function compile(schema: ZodTypeAny): QuickCheck {
  const def = schema._def as Def
  switch (def.typeName) {
    case 'ZodString': return def.coerce ? no : stringCheck(def.checks)
    case 'ZodNumber': return def.coerce ? no : numberCheck(def.checks)
    case 'ZodBoolean': return def.coerce ? no : (v) => typeof v === 'boolean'
    case 'ZodEnum': {
      const values = new Set<unknown>(def.values)
      return (v) => typeof v === 'string' && values.has(v)
    }
    case 'ZodLiteral': return (v) => v === def.value
    case 'ZodUnknown':
    case 'ZodAny': return () => true
    case 'ZodOptional': {
      const inner = quickCheck(def.innerType)
      return (v) => v === undefined || inner(v)
    }
    case 'ZodNullable': {
      const inner = quickCheck(def.innerType)
      return (v) => v === null || inner(v)
    }
    // Absent, zod fills in the default: the value would not come back unchanged.
    case 'ZodDefault': {
      const inner = quickCheck(def.innerType)
      return (v) => v !== undefined && inner(v)
    }
    case 'ZodArray': return arrayCheck(def)
    case 'ZodObject': return objectCheck(def)
    case 'ZodEffects': return def.effect.type === 'refinement' ? refinementCheck(quickCheck(def.schema), def.effect.refinement) : no
    default: return no
  }
}

function stringCheck(checks: {kind: string, value?: number, regex?: RegExp}[]): QuickCheck {
  const tests: ((s: string) => boolean)[] = []
  for (const c of checks) {
    if (c.kind === 'regex') {
      const re = c.regex!
      tests.push((s) => {
        re.lastIndex = 0
        return re.test(s)
      })
    } else if (c.kind === 'min') tests.push((s) => s.length >= c.value!)
    else if (c.kind === 'max') tests.push((s) => s.length <= c.value!)
    else if (c.kind === 'length') tests.push((s) => s.length === c.value!)
    else return no
  }
  return (v) => {
    if (typeof v !== 'string') return false
    for (let i = 0; i < tests.length; i++) if (!tests[i](v)) return false
    return true
  }
}

function numberCheck(checks: {kind: string, value?: number, inclusive?: boolean}[]): QuickCheck {
  const tests: ((n: number) => boolean)[] = []
  for (const c of checks) {
    if (c.kind === 'int') tests.push((n) => Number.isInteger(n))
    else if (c.kind === 'finite') tests.push((n) => Number.isFinite(n))
    else if (c.kind === 'min') tests.push((n) => (c.inclusive ? n >= c.value! : n > c.value!))
    else if (c.kind === 'max') tests.push((n) => (c.inclusive ? n <= c.value! : n < c.value!))
    else return no
  }
  return (v) => typeof v === 'number' && !Number.isNaN(v) && tests.every((t) => t(v))
}

function arrayCheck(def: Def): QuickCheck {
  const element = quickCheck(def.type)
  const {exactLength, minLength, maxLength} = def as Def & Record<'exactLength' | 'minLength' | 'maxLength', {value: number} | null>
  return (v) => Array.isArray(v)
    && (!exactLength || v.length === exactLength.value)
    && (!minLength || v.length >= minLength.value)
    && (!maxLength || v.length <= maxLength.value)
    && v.every((x) => element(x))
}

function objectCheck(def: Def): QuickCheck {
  // A key the shape does not name is an error (strict), dropped (strip) or parsed by a catch-all:
  // only without one is the value given back as it is.
  if ((def.catchall._def as Def).typeName !== 'ZodNever') return no
  const shape = def.shape() as Record<string, ZodTypeAny>
  const keys = Object.keys(shape)
  const checks = keys.map((key) => quickCheck(shape[key]))
  const extraAllowed = def.unknownKeys === 'passthrough'
  // Plain loops: this runs for every node of the inventory, before the code is optimised.
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) return false
    const object = v as Record<string, unknown>
    if (!extraAllowed) {
      for (const key in object) if (!Object.hasOwn(shape, key)) return false
    }
    for (let i = 0; i < keys.length; i++) if (!checks[i](object[keys[i]])) return false
    return true
  }
}

/** `refine` and `superRefine`: a failure is a false return or an issue added. */
function refinementCheck(inner: QuickCheck, refinement: (value: unknown, ctx: unknown) => unknown): QuickCheck {
  return (v) => {
    if (!inner(v)) return false
    let failed = false
    const ctx = {
      addIssue: () => {
        failed = true
      },
      path: [],
    }
    const result = refinement(v, ctx)
    // An async refinement cannot be answered here.
    return !failed && result !== false && !(result instanceof Promise)
  }
}
