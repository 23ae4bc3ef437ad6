/**
 * The shared heavy fixture: ONE real debian-bookworm golden image, built by pxeroot's own
 * `image build` (debootstrap against the host's Debian mirror), cached under PXEROOT_TEST_CACHE
 * (default /var/tmp/pxeroot-test-cache) across test files and runs. A file lock makes concurrent
 * callers wait for the one build. The cache is rebuilt when the recipe or NFS-root setup changes.
 *
 * goldenImage() hands each caller a fresh temporary --root: a site file, the image directory as a
 * symlink into the cache (treat its revisions as read-only: clone them, do not update or prune
 * them) and a copy of the boot files (tftpd --secure does not follow symlinks out of its root).
 * goldenCopy(name) gives a private, writable copy of the revision for tests that change images.
 */
import {createHash} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {type SiteModel} from '../../src/config/site.js'
import {parseSite} from '../../src/config/site-file.js'
import {type RevisionRef} from '../../src/images/layout.js'
export {runCommand} from './run-command.js'
import {runCommand} from './run-command.js'
import {underLockWaiting} from './lock-wait.js'
import {makeRoot, STATE, type Root} from '../../src/system/paths.js'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CACHE = process.env.PXEROOT_TEST_CACHE ?? '/var/tmp/pxeroot-test-cache'
/** Bump when what the golden image must contain changes in a way the hashed sources do not show. */
const GOLDEN_FORMAT = 1
const IMAGE = 'debian-bookworm'

export interface Golden {
  root: Root
  site: SiteModel
  ref: RevisionRef
  rootPrefix: string
}

/** The site file of every golden root: the lab network of lab.md, default paths, the shared .deb cache. */
export function goldenSiteText(): string {
  return [
    'server: 10.77.0.1',
    'subnet: 10.77.0.0/24',
    'nodes:',
    '  range: 10.77.0.100-10.77.0.150',
    'backends:',
    '  nfs: ganesha',
    'images:',
    `  debCache: ${path.join(CACHE, 'debs')}`,
    '',
  ].join('\n')
}

async function goldenKey(): Promise<string> {
  const h = createHash('sha256').update(`format ${GOLDEN_FORMAT}\n`)
  // Every source the build runs through: a cache from older build code must never stand in for this one's.
  for (const dir of ['src/images', 'src/system']) {
    for (const f of (await fs.readdir(path.join(REPO, dir))).sort()) h.update(`${dir}/${f}\n`).update(await fs.readFile(path.join(REPO, dir, f)))
  }
  return h.digest('hex').slice(0, 16)
}

/** One directory per key, so checkouts with different build code (branches, worktrees) never
 * rebuild each other's image; the oldest are removed when a new one is built. */
const KEEP_BUILDS = 6
let currentKey = ''
const goldenDir = (key = currentKey) => path.join(CACHE, `golden-${key}`)
const buildRoot = () => path.join(goldenDir(), 'root')
const readyFile = (key: string) => path.join(goldenDir(key), 'ready.json')

async function readReady(key: string): Promise<RevisionRef | undefined> {
  const text = await fs.readFile(readyFile(key), 'utf8').catch(() => undefined)
  if (!text) return undefined
  const ready = JSON.parse(text) as {key: string, ref: RevisionRef}
  return ready.key === key ? ready.ref : undefined
}

/** Runs an oclif command class in-process the way the CLI would; resolves with its exit code. */
async function buildGolden(key: string): Promise<RevisionRef> {
  const {default: ImageBuild} = await import('../../src/commands/image/build.js')
  const prefix = buildRoot()
  await fs.rm(goldenDir(key), {recursive: true, force: true})
  await fs.mkdir(path.join(prefix, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(prefix, 'etc/pxeroot/pxeroot.yaml'), goldenSiteText())
  // The site's debCache resolves under the build's --root: point it at the shared .deb cache.
  const debs = path.join(prefix, path.join(CACHE, 'debs'))
  await fs.mkdir(path.join(CACHE, 'debs'), {recursive: true})
  await fs.mkdir(path.dirname(debs), {recursive: true})
  await fs.symlink(path.join(CACHE, 'debs'), debs)
  await pruneOldBuilds(key)
  const started = Date.now()
  const r = await runCommand(ImageBuild, [IMAGE, '--root', prefix])
  if (r.code !== 0) throw new Error(`golden image build failed (exit ${r.code}): ${r.error?.message}`)
  const ref = {image: IMAGE, revision: 1}
  await fs.writeFile(readyFile(key), JSON.stringify({key, ref, seconds: Math.round((Date.now() - started) / 1000)}) + '\n')
  return ref
}

/** Removes other builds beyond the newest KEEP_BUILDS - 1, and only those unused for a day:
 * other checkouts on this machine may be in the middle of a run on them. */
async function pruneOldBuilds(key: string): Promise<void> {
  const {execa} = await import('execa')
  const others: {dir: string, mtime: number}[] = []
  for (const name of await fs.readdir(CACHE).catch(() => [] as string[])) {
    if (name.startsWith('golden-') && name !== `golden-${key}` && !name.endsWith('.lock')) {
      const st = await fs.stat(path.join(CACHE, name, 'ready.json')).catch(() => undefined)
      // No ready.json: a build in progress (another checkout's), never ours to remove.
      if (st) others.push({dir: path.join(CACHE, name), mtime: st.mtimeMs})
    }
  }
  others.sort((a, b) => b.mtime - a.mtime)
  const dayAgo = Date.now() - 24 * 3600_000
  for (const old of others.slice(KEEP_BUILDS - 1).filter((o) => o.mtime < dayAgo)) await execa('rm', ['-rf', '--one-file-system', '--', old.dir], {reject: false})
}

let cached: Promise<RevisionRef> | undefined

/** Builds the golden image once (waiting for another process that is building it) and returns its ref. */
export async function goldenRevision(): Promise<RevisionRef> {
  cached ??= (async () => {
    const key = await goldenKey()
    currentKey = key
    const ready = await readReady(key)
    if (ready) return ready
    await fs.mkdir(CACHE, {recursive: true})
    return underLockWaiting(path.join(CACHE, `golden-${key}.lock`), 'golden image build', {waitMs: 45 * 60_000, pollMs: 5000},
      async () => (await readReady(key)) ?? await buildGolden(key))
  })()
  cached.catch(() => {
    cached = undefined
  })
  return cached
}

async function freshRoot(site: string): Promise<{prefix: string, root: Root, site: SiteModel}> {
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-golden-'))
  await fs.mkdir(path.join(prefix, path.dirname(STATE.siteFile)), {recursive: true})
  await fs.writeFile(path.join(prefix, STATE.siteFile), site)
  const model = parseSite(site)
  return {prefix, root: makeRoot(prefix), site: model}
}

async function copyBootFiles(from: string, to: string): Promise<void> {
  await fs.mkdir(to, {recursive: true, mode: 0o755})
  for (const f of await fs.readdir(from)) {
    await fs.copyFile(path.join(from, f), path.join(to, f))
    await fs.chmod(path.join(to, f), 0o644)
  }
}

/** A temp --root with the golden image (read-only, shared with other tests) and its boot files. */
export async function goldenImage(): Promise<Golden> {
  const ref = await goldenRevision()
  const {prefix, root, site} = await freshRoot(goldenSiteText())
  const cachedRoot = makeRoot(buildRoot())
  const imageLink = root.resolve(path.posix.join(site.paths.images, ref.image))
  await fs.mkdir(path.dirname(imageLink), {recursive: true})
  await fs.symlink(cachedRoot.resolve(path.posix.join(site.paths.images, ref.image)), imageLink)
  const boot = path.posix.join(site.paths.tftp, 'pxeroot', ref.image, String(ref.revision))
  await copyBootFiles(cachedRoot.resolve(boot), root.resolve(boot))
  return {root, site, ref, rootPrefix: prefix}
}

/** A temp --root holding a private, writable copy of the golden revision as `<name>@1` (current). */
export async function goldenCopy(name: string): Promise<Golden> {
  const golden = await goldenRevision()
  const {prefix, root, site} = await freshRoot(goldenSiteText())
  const cachedRoot = makeRoot(buildRoot())
  const fromRev = cachedRoot.resolve(path.posix.join(site.paths.images, golden.image, String(golden.revision)))
  const toImage = root.resolve(path.posix.join(site.paths.images, name))
  await fs.mkdir(toImage, {recursive: true})
  const {execa} = await import('execa')
  await execa('cp', ['-a', '--reflink=auto', fromRev, path.join(toImage, '1')])
  const manifestFile = path.join(toImage, '1', 'manifest.json')
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as Record<string, unknown>
  await fs.writeFile(manifestFile, JSON.stringify({...manifest, image: name, revision: 1}, null, 2) + '\n')
  await fs.symlink('1', path.join(toImage, 'current'))
  await fs.writeFile(path.join(toImage, '.last-revision'), '1\n')
  const from = cachedRoot.resolve(path.posix.join(site.paths.tftp, 'pxeroot', golden.image, String(golden.revision)))
  await copyBootFiles(from, root.resolve(path.posix.join(site.paths.tftp, 'pxeroot', name, '1')))
  return {root, site, ref: {image: name, revision: 1}, rootPrefix: prefix}
}

/** Removes a temp root made by goldenImage/goldenCopy (never the cache behind its symlinks). */
export async function removeGoldenRoot(golden: Golden): Promise<void> {
  const {execa} = await import('execa')
  await execa('rm', ['-rf', '--one-file-system', '--', golden.rootPrefix])
}
