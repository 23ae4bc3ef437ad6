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
  if (m.format !== undefined && m.format !== 1) fail(source, `format: ${String(m.format)} is newer than this pxeroot reads (1); upgrade pxeroot`)
  const packages: Record<string, string> = {}
  // The build writes [{name, version, arch}]; a {name: version} map reads the same.
  const entries: Array<[unknown, unknown, unknown]> = Array.isArray(m.packages)
    ? (m.packages as unknown[]).map((p) => {
      const e = (p ?? {}) as {name?: unknown, version?: unknown, arch?: unknown}
      return [e.name, e.version, e.arch]
    })
    : Object.entries(m.packages as Record<string, unknown>).map(([n, v]) => [n, v, undefined])
  const counts = new Map<unknown, number>()
  for (const [name] of entries) counts.set(name, (counts.get(name) ?? 0) + 1)
  for (const [name, version, arch] of entries) {
    if (typeof name !== 'string' || typeof version !== 'string') fail(source, 'packages: every entry needs a name and a version')
    // A package installed for two architectures (multiarch) is two entries: tell them apart.
    packages[(counts.get(name) ?? 0) > 1 && typeof arch === 'string' ? `${name}:${arch}` : name] = version
  }
  const recipe = typeof m.recipe === 'string' ? m.recipe : (m.recipe as {name?: unknown} | undefined)?.name
  return {
    image: m.image,
    revision: m.revision as number,
    recipe: typeof recipe === 'string' ? recipe : undefined,
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
