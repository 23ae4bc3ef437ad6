import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {type Context} from '../system/context.js'
import {exists, filesUnder, readIfExists, withTempDir} from '../system/files.js'
import {type StorageBackend} from '../storage/backend.js'
import {bootFiles, type RevisionRef} from './layout.js'
import {shimVendorCertificates} from './shim-certificates.js'

/** The programs the Secure Boot checks run, and the Debian packages they come from. */
export const SECURE_BOOT_TOOLS = {sbverify: 'sbsigntool', modinfo: 'kmod'} as const

/** Where to find the shim pxeroot serves (the grub loader's program file). */
export interface ShimSource {
  files: readonly string[]
  pkg: string
}

export interface Signer {
  subject: string
  issuer: string
}

/**
 * Whether shim lets GRUB boot a kernel under Secure Boot. trusted: its signature verifies
 * against a certificate shim carries; untrusted: signed, but not by such a key (it boots only
 * if its signer is enrolled as a MOK); unsigned; unknown: a tool or shim itself is missing.
 */
export interface KernelTrust {
  status: 'trusted' | 'untrusted' | 'unsigned' | 'unknown'
  /** The host path checked. */
  file: string
  signers: Signer[]
  /** The shim certificate the signature verifies against. */
  trustedBy?: string
  message: string
}

/** A module lockdown refuses under Secure Boot: unsigned, or signed by a key other than its kernel's build key. */
export interface RefusedModule {
  /** Relative to the kernel's module directory, e.g. updates/dkms/zfs.ko. */
  module: string
  /** null when unsigned. */
  signer: string | null
}

export interface ModuleTrust {
  status: 'ok' | 'refused' | 'unknown'
  /** Modules outside the kernel's own build (updates/, extra/: DKMS and hand-installed ones). */
  outOfTree: number
  refused: RefusedModule[]
  message: string
}

const plain = (dn: string) => dn.replace(/^\//, '').replaceAll('/', ', ')

/** sbverify --list: each signature's signing certificate (subject, issuer). Empty when there is no signature table. */
export function parseSbverifyList(text: string): Signer[] {
  const out: Signer[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const subject = /^\s*- subject:\s*(.*)$/.exec(lines[i])
    const issuer = subject ? /^\s*issuer:\s*(.*)$/.exec(lines[i + 1] ?? '') : undefined
    if (subject && issuer) out.push({subject: plain(subject[1].trim()), issuer: plain(issuer[1].trim())})
  }
  return out
}

async function readShim(shim: ShimSource): Promise<Buffer | undefined> {
  for (const file of shim.files) {
    const data = await readIfExists(file)
    if (data) return data
  }
  return undefined
}

/** A tool missing is reported, not thrown: image show and doctor still print everything else. */
async function orMissingTool<T>(fn: () => Promise<T>, missing: (error: PreconditionError) => T): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof PreconditionError) return missing(error)
    throw error
  }
}

/**
 * Checks a kernel the way shim does when GRUB loads it: its Authenticode signature must verify
 * (image hash included) against a certificate in shim's vendor section. `sbverify --cert` does
 * that check; a signer that merely carries the CA's name does not pass. `sbverify --list` only
 * names the signers for the message.
 */
export async function kernelTrust(ctx: Context, kernel: string, shim: ShimSource): Promise<KernelTrust> {
  const file = ctx.root.hostPath(kernel)
  const unknown = (message: string): KernelTrust => ({status: 'unknown', file, signers: [], message})
  if (!await exists(kernel)) return unknown(`${file} does not exist`)
  const shimImage = await readShim(shim)
  if (!shimImage) return unknown(`cannot tell which keys shim trusts: ${shim.pkg} is not installed`)
  const certificates = shimVendorCertificates(shimImage)
  if (certificates.length === 0) return unknown(`the installed shim carries no vendor certificate (${shim.files[0]})`)
  return orMissingTool<KernelTrust>(async () => {
    const listed = await ctx.runner.run('sbverify', ['--list', kernel], {reject: false, timeout: 60_000})
    const signers = parseSbverifyList(listed.stdout)
    const names = signers.map((s) => s.subject).join('; ')
    if (signers.length === 0) {
      return {status: 'unsigned', file, signers, message: 'the kernel is not signed: with Secure Boot on, GRUB refuses it ("bad shim signature")'}
    }
    for (const certificate of certificates) {
      const verified = await withTempDir(ctx.files, 'pxeroot-shim-', async (dir) => {
        const pem = await dir.write('vendor.pem', certificate.toString())
        return ctx.runner.run('sbverify', ['--cert', pem, kernel], {reject: false, timeout: 60_000})
      })
      if (verified.exitCode === 0) {
        const trustedBy = certificate.subject.split('\n').join(', ')
        return {status: 'trusted', file, signers, trustedBy, message: `signed by ${names}, which shim trusts (its vendor certificate ${trustedBy})`}
      }
    }
    return {status: 'untrusted', file, signers,
      message: `signed by ${names}, not by a key shim trusts: with Secure Boot on, GRUB refuses it ("bad shim signature") unless that key is enrolled as a MOK`}
  }, (error) => unknown(`${error.message} (${error.suggestion ?? `apt-get install ${SECURE_BOOT_TOOLS.sbverify}`})`))
}

const MODULE_FILE = /\.ko(\.(xz|zst|gz))?$/

const moduleFiles = async (dir: string) => (await filesUnder(dir)).filter((f) => MODULE_FILE.test(f))

/** The kernel's module directory inside a root: usr/lib/modules on merged-/usr roots, never through a link out of the root. */
async function modulesDir(rootfs: string, kernel: string): Promise<string | undefined> {
  const root = await fs.realpath(rootfs).catch(() => undefined)
  if (!root) return undefined
  for (const dir of [path.join(root, 'usr/lib/modules', kernel), path.join(root, 'lib/modules', kernel)]) {
    const real = await fs.realpath(dir).catch(() => undefined)
    if (real && !path.relative(root, real).startsWith('..')) return real
  }
  return undefined
}

interface ModInfo {
  signer?: string
  sigKey?: string
}

/** modinfo output for several files: one block per file, each starting at its "filename:" line. */
export function parseModinfo(text: string): Map<string, ModInfo> {
  const out = new Map<string, ModInfo>()
  let current: ModInfo | undefined
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line)
    if (!m) continue
    if (m[1] === 'filename') out.set(m[2].trim(), current = {})
    else if (current && m[1] === 'signer') current.signer = m[2].trim()
    else if (current && m[1] === 'sig_key') current.sigKey = m[2].trim()
  }
  return out
}

/**
 * The modules a Secure Boot node's kernel will refuse: lockdown loads only modules signed by a
 * key the kernel trusts. Debian signs a kernel's own modules with a key made for that build and
 * built into it; a module under updates/ or extra/ (DKMS, vendor drivers) unsigned, or signed
 * by any other key, loads only when that key is enrolled as a MOK.
 */
export async function moduleTrust(ctx: Context, rootfs: string, kernel: string): Promise<ModuleTrust> {
  const dir = await modulesDir(rootfs, kernel)
  if (!dir) return {status: 'unknown', outOfTree: 0, refused: [], message: `no module directory for kernel ${kernel}`}
  const outOfTree = (await Promise.all(['updates', 'extra'].map((d) => moduleFiles(path.join(dir, d))))).flat().sort()
  if (outOfTree.length === 0) return {status: 'ok', outOfTree: 0, refused: [], message: 'no out-of-tree modules (updates/, extra/)'}
  const own = (await moduleFiles(path.join(dir, 'kernel')))[0]
  return orMissingTool<ModuleTrust>(async () => {
    const info = parseModinfo((await ctx.runner.run('modinfo', [...own ? [own] : [], ...outOfTree], {reject: false, timeout: 120_000})).stdout)
    const buildKey = own ? info.get(own)?.sigKey : undefined
    const refused = outOfTree.filter((f) => !buildKey || info.get(f)?.sigKey !== buildKey)
      .map((f) => ({module: path.relative(dir, f), signer: info.get(f)?.signer || null}))
    if (refused.length === 0) return {status: 'ok', outOfTree: outOfTree.length, refused, message: `${outOfTree.length} out-of-tree module(s), signed by the kernel's build key`}
    const list = refused.slice(0, 5).map((r) => `${r.module} (${r.signer ? `signed by ${r.signer}` : 'unsigned'})`).join(', ')
    return {status: 'refused', outOfTree: outOfTree.length, refused,
      message: `${refused.length} of ${outOfTree.length} out-of-tree module(s) will not load under Secure Boot unless their key is enrolled as a MOK: ${list}${refused.length > 5 ? ', ...' : ''}`}
  }, (error) => ({status: 'unknown', outOfTree: outOfTree.length, refused: [], message: `${error.message} (${error.suggestion ?? `apt-get install ${SECURE_BOOT_TOOLS.modinfo}`})`}))
}

export interface SecureBootReport {
  kernel: KernelTrust
  modules: ModuleTrust
}

/**
 * A revision under Secure Boot: the kernel nodes load (the one published to the tftp root, else
 * the root's /boot copy) and the root's out-of-tree modules.
 */
export async function revisionSecureBoot(ctx: Context, site: SiteModel, storage: StorageBackend, ref: RevisionRef, kernelVersion: string, shim: ShimSource): Promise<SecureBootReport> {
  const published = ctx.root.resolve(path.posix.join(site.paths.tftp, bootFiles(ref).kernel))
  return storage.withRevisionTree(ref, async (rootfs) => {
    const kernel = await exists(published) ? published : path.join(rootfs, 'boot', `vmlinuz-${kernelVersion}`)
    const [kernelReport, modules] = await Promise.all([kernelTrust(ctx, kernel, shim), moduleTrust(ctx, rootfs, kernelVersion)])
    return {kernel: kernelReport, modules}
  })
}
