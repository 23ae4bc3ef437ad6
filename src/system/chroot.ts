import {spawn} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {ExternalCommandError, InterruptedError} from '../errors.js'
import {type RunOptions, type RunResult, type Runner} from './runner.js'

/**
 * unshare arguments for a private mount + PID namespace: every mount made inside (by debootstrap or
 * by the chroot script) dies with the namespace, and --kill-child takes the whole process tree down
 * when unshare is killed, so a killed build leaves no mounts on the host.
 */
export function namespaceArgs(argv: readonly string[]): string[] {
  return ['--mount', '--pid', '--fork', '--propagation', 'private', '--kill-child', '--', ...argv]
}

/**
 * Runs inside the namespace. A constant script: the rootfs and the command arrive as positional
 * parameters, never interpolated. /dev is bound (it carries /dev/pts); /run is a fresh tmpfs so
 * nothing a package starts or writes there ends up in the image.
 */
const CHROOT_SCRIPT = [
  'set -e',
  'root=$1',
  'shift',
  'mount -t proc -o nosuid,nodev,noexec proc "$root/proc"',
  'mount -t sysfs -o nosuid,nodev,noexec,ro sysfs "$root/sys"',
  'mount --rbind /dev "$root/dev"',
  'mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"',
  'exec chroot "$root" "$@"',
].join('\n')

export function chrootArgs(rootfs: string, argv: readonly string[]): string[] {
  return namespaceArgs(['/bin/sh', '-c', CHROOT_SCRIPT, 'pxeroot-chroot', rootfs, ...argv])
}

/** The environment of every command run in an image: noninteractive, a sane PATH, no initrd from kernel hooks. */
export const CHROOT_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
  LC_ALL: 'C.UTF-8',
  LANG: 'C.UTF-8',
  LANGUAGE: '',
  INITRD: 'No',
}

const POLICY_RC_D = 'usr/sbin/policy-rc.d'
const RESOLV_CONF = 'etc/resolv.conf'

type Saved =
  | {kind: 'none'}
  | {kind: 'link', target: string}
  | {kind: 'file', data: Buffer, mode: number, uid: number, gid: number, atime: Date, mtime: Date}

async function save(file: string): Promise<Saved> {
  const st = await fs.lstat(file).catch(() => undefined)
  if (!st) return {kind: 'none'}
  if (st.isSymbolicLink()) return {kind: 'link', target: await fs.readlink(file)}
  return {kind: 'file', data: await fs.readFile(file), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atime: st.atime, mtime: st.mtime}
}

/** Puts a file back exactly as it was (bytes, mode, owner, times, or the symlink), whatever happened meanwhile. */
async function restore(file: string, saved: Saved): Promise<void> {
  await fs.rm(file, {force: true})
  if (saved.kind === 'link') await fs.symlink(saved.target, file)
  if (saved.kind === 'file') {
    await fs.writeFile(file, saved.data, {mode: saved.mode})
    await fs.chmod(file, saved.mode)
    await fs.chown(file, saved.uid, saved.gid)
    await fs.utimes(file, saved.atime, saved.mtime)
  }
}

export interface ChrootSession {
  /** Runs argv inside the image (its own mounts, torn down when it exits). */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>
  /** Runs argv attached to this terminal (image shell); resolves with its exit code. */
  interactive(argv: readonly string[]): Promise<number>
}

export interface SessionOptions {
  /** The resolver to use during the session; the real host's, not one under --root. */
  hostResolvConf?: string
}

/**
 * A chroot session on a working tree (never a published revision): policy-rc.d keeps package
 * scripts from starting services, and the host's resolver lets apt reach the mirror. Both are
 * undone on every exit path, leaving the image's own policy-rc.d (normally none) and resolv.conf
 * (file or symlink) byte for byte.
 */
export async function withChrootSession<T>(runner: Runner, rootfs: string, fn: (session: ChrootSession) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  const policy = path.join(rootfs, POLICY_RC_D)
  const resolv = path.join(rootfs, RESOLV_CONF)
  for (const d of ['proc', 'sys', 'dev', 'run']) await fs.mkdir(path.join(rootfs, d), {recursive: true})
  const savedPolicy = await save(policy)
  const savedResolv = await save(resolv)
  try {
    await fs.mkdir(path.dirname(policy), {recursive: true})
    await fs.rm(policy, {force: true})
    await fs.writeFile(policy, '#!/bin/sh\n# pxeroot: no services start while an image is being built\nexit 101\n', {mode: 0o755})
    const hostResolv = await fs.readFile(options.hostResolvConf ?? '/etc/resolv.conf').catch(() => Buffer.from(''))
    await fs.rm(resolv, {force: true})
    await fs.writeFile(resolv, hostResolv, {mode: 0o644})
    return await fn({
      async run(argv, runOptions = {}) {
        try {
          return await runner.run('unshare', chrootArgs(rootfs, argv), {...runOptions, env: {...CHROOT_ENV, ...runOptions.env}})
        } catch (error) {
          // Name the command the user knows, not the namespace wrapper around it.
          if (!(error instanceof ExternalCommandError)) throw error
          const code = error.code === undefined ? '' : ` (exit ${error.code})`
          throw new ExternalCommandError(argv[0], argv.slice(1), error.code, error.stderrTail, `in the image: ${argv.join(' ')} failed${code}${error.stderrTail ? `: ${error.stderrTail}` : ''}`)
        }
      },
      interactive: (argv) => interactive(rootfs, argv),
    })
  } finally {
    await restore(policy, savedPolicy)
    await restore(resolv, savedResolv)
  }
}

/**
 * The one process pxeroot runs attached to the terminal (the Runner captures output, which an
 * interactive shell cannot have). Ctrl-C belongs to the shell while it runs.
 */
async function interactive(rootfs: string, argv: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', chrootArgs(rootfs, argv), {stdio: 'inherit', env: {...process.env, ...CHROOT_ENV, TERM: process.env.TERM ?? 'xterm'}})
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal) reject(new InterruptedError(`the image shell was killed by ${signal}`))
      else resolve(code ?? 1)
    })
  })
}
