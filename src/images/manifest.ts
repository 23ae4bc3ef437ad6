import {promises as fs} from 'node:fs'
import path from 'node:path'

import {z} from 'zod'

import {zodProblems} from '../config/issues.js'
import {type SiteModel} from '../config/site.js'
import {type RevisionStorage} from '../storage/backend.js'
import {PreconditionError, UserError} from '../errors.js'
import {type Files} from '../system/files.js'
import {type Root} from '../system/paths.js'
import {type Runner} from '../system/runner.js'
import {formatRevisionRef, revisionManifest, type RevisionRef} from './layout.js'
import {type Recipe} from './recipes.js'

export interface ManifestPackage {
  name: string
  version: string
  arch: string
}

/** <images>/<name>/<N>/manifest.json: what a revision is. Read by image list/show/diff/export. */
export interface Manifest {
  format: 1
  image: string
  revision: number
  /** The revision this one was made from (update, exec, shell); absent for a fresh build. */
  parent?: number
  origin: 'build' | 'update' | 'exec' | 'shell' | 'import'
  /** The argv of image exec/shell. */
  command?: string[]
  recipe: Recipe
  suite: string
  mirror: string
  kernel: string
  /** Installed packages (dpkg status "ii"), sorted by name. */
  packages: ManifestPackage[]
  sizes: {rootfsBytes: number, kernelBytes: number, initrdBytes: number}
  /** How the storage backend keeps the tree: 'btrfs' (rootfs is a read-only subvolume),
   * 'directory' (rootfs is a plain directory) or 'rbd' (an image in the site's Ceph pool). */
  storage: RevisionStorage
  builtAt: string
  buildSeconds: number
  pxerootVersion: string
  /** Where an imported revision came from. */
  importedFrom?: {image: string, revision: number, archive: string, importedAt: string}
}

/** The fields pxeroot relies on; the rest of a manifest is carried as it is. */
const ManifestSchema = z.object({
  format: z.literal(1),
  image: z.string().min(1),
  revision: z.number().int().positive(),
  parent: z.number().int().positive().optional(),
  origin: z.enum(['build', 'update', 'exec', 'shell', 'import']),
  command: z.array(z.string()).optional(),
  recipe: z.object({name: z.string()}).passthrough(),
  suite: z.string(),
  mirror: z.string(),
  kernel: z.string().min(1),
  packages: z.array(z.object({name: z.string(), version: z.string(), arch: z.string()})),
  sizes: z.object({rootfsBytes: z.number(), kernelBytes: z.number(), initrdBytes: z.number()}),
  storage: z.enum(['btrfs', 'directory', 'rbd']),
  builtAt: z.string(),
  buildSeconds: z.number(),
  pxerootVersion: z.string(),
}).passthrough()

/** A whole manifest, checked; a manifest from elsewhere (an archive) is refused with every problem named. */
export function parseManifest(data: unknown, source: string): Manifest {
  const parsed = ManifestSchema.safeParse(data)
  if (!parsed.success) throw new UserError(`${source}: ${zodProblems(parsed.error).join('; ')}`, 'it must be a manifest.json written by "pxeroot image build"')
  return parsed.data as z.output<typeof ManifestSchema> & Pick<Manifest, 'recipe'>
}

/** dpkg-query -W output (Package\tVersion\tArch\tStatus) to installed packages; pure. */
export function parseDpkgQuery(text: string): ManifestPackage[] {
  return text.split('\n').map((l) => l.split('\t')).filter((f) => f.length >= 4 && f[3].startsWith('ii'))
    .map(([name, version, arch]) => ({name, version, arch}))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The installed packages of a tree, read from its dpkg database by the host's dpkg-query (no chroot needed). */
export async function installedPackages(runner: Runner, rootfs: string): Promise<ManifestPackage[]> {
  const r = await runner.run('dpkg-query', [`--admindir=${path.join(rootfs, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n'], {timeout: 120_000})
  return parseDpkgQuery(r.stdout)
}

/** Names of packages added, removed or changed in version between two lists. */
export function changedPackages(a: readonly ManifestPackage[], b: readonly ManifestPackage[]): string[] {
  const va = new Map(a.map((p) => [p.name, p.version]))
  const vb = new Map(b.map((p) => [p.name, p.version]))
  return [...new Set([...va.keys(), ...vb.keys()])].filter((n) => va.get(n) !== vb.get(n)).sort()
}

export async function readManifest(root: Root, site: SiteModel, ref: RevisionRef): Promise<Manifest> {
  const file = root.resolve(revisionManifest(site, ref))
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new PreconditionError(`revision ${formatRevisionRef(ref)} does not exist (no ${revisionManifest(site, ref)})`, 'see "pxeroot image list"')
  })
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new UserError(`${revisionManifest(site, ref)} is not valid JSON`)
  }
  return parseManifest(data, revisionManifest(site, ref))
}

export async function writeManifest(files: Files, file: string, manifest: Manifest): Promise<void> {
  await files.write(file, JSON.stringify(manifest, null, 2) + '\n', {mode: 0o644})
}

/** Bytes used by a tree, not crossing into other filesystems. */
export async function treeBytes(runner: Runner, dir: string): Promise<number> {
  const r = await runner.run('du', ['-s', '-B1', '--one-file-system', dir], {timeout: 10 * 60_000})
  return Number.parseInt(r.stdout, 10) || 0
}
