import {UserError} from '../errors.js'

/**
 * The fields of a revision manifest (manifest.json, written by the build) that diff and import
 * rely on. Every reader goes through `manifestView`, so a change of the manifest format is a fix
 * in this one function.
 */
export interface ManifestView {
  image: string
  revision: number
  recipe?: string
  kernel: string
  /** Package name → version, as dpkg reports them. */
  packages: Record<string, string>
  builtAt?: string
}

function fail(source: string, problem: string): never {
  throw new UserError(`${source}: ${problem}`, 'it must be a manifest.json written by "pxeroot image build"')
}

export function manifestView(data: unknown, source = 'manifest.json'): ManifestView {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail(source, 'not a JSON object')
  const m = data as Record<string, unknown>
  if (typeof m.image !== 'string' || m.image === '') fail(source, 'image: is required')
  if (!Number.isInteger(m.revision) || (m.revision as number) < 1) fail(source, 'revision: must be a positive integer')
  if (typeof m.kernel !== 'string' || m.kernel === '') fail(source, 'kernel: is required (the kernel version the revision boots)')
  if (typeof m.packages !== 'object' || m.packages === null) fail(source, 'packages: must map package names to versions')
  const packages: Record<string, string> = {}
  // A list of {name, version} is accepted too, so either shape the build settles on reads the same.
  const entries: Array<[unknown, unknown]> = Array.isArray(m.packages)
    ? (m.packages as unknown[]).map((p) => [(p as {name?: unknown})?.name, (p as {version?: unknown})?.version])
    : Object.entries(m.packages as Record<string, unknown>)
  for (const [name, version] of entries) {
    if (typeof name !== 'string' || typeof version !== 'string') fail(source, 'packages: every entry needs a name and a version')
    packages[name] = version
  }
  return {
    image: m.image,
    revision: m.revision as number,
    recipe: typeof m.recipe === 'string' ? m.recipe : undefined,
    kernel: m.kernel,
    packages,
    builtAt: typeof m.builtAt === 'string' ? m.builtAt : undefined,
  }
}

export function parseManifestText(text: string, source = 'manifest.json'): ManifestView {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    fail(source, 'not valid JSON')
  }
  return manifestView(data, source)
}
