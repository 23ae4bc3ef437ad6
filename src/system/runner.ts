import type {ExecaError} from 'execa'

import {ExternalCommandError, PreconditionError} from '../errors.js'

export interface RunOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  input?: string
  /** Milliseconds before the process is killed. Every process pxeroot starts is bounded. */
  timeout?: number
  cancelSignal?: AbortSignal
  /** Resolve with the result instead of throwing on a non-zero exit (for checkers like dhcpd -t). */
  reject?: boolean
  /** Called with each line of stdout/stderr as it arrives (progress of long steps). */
  onLine?: (line: string) => void
  /** Give the process this terminal (stdin, stdout, stderr) instead of capturing its output: a
   * command the user runs inside pxeroot's environment (lab session -- COMMAND). */
  inherit?: boolean
}

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** The only way pxeroot runs a process: argv arrays, never shell strings. */
export interface Runner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>
}

/** Debian package that provides each command pxeroot runs, for "not installed" errors. */
export const PACKAGE_OF: Record<string, string> = {
  dhcpd: 'isc-dhcp-server',
  'kea-dhcp4': 'kea-dhcp4-server',
  dnsmasq: 'dnsmasq-base',
  exportfs: 'nfs-kernel-server',
  'ganesha.nfsd': 'nfs-ganesha nfs-ganesha-vfs',
  'in.tftpd': 'tftpd-hpa',
  debootstrap: 'debootstrap',
  btrfs: 'btrfs-progs',
  rsync: 'rsync',
  'mkfs.btrfs': 'btrfs-progs',
  wipefs: 'util-linux',
  blkid: 'util-linux',
  'qemu-system-x86_64': 'qemu-system-x86',
  zstd: 'zstd',
  unshare: 'util-linux',
  'dbus-send': 'dbus',
  losetup: 'util-linux',
  mke2fs: 'e2fsprogs',
  'qemu-img': 'qemu-utils',
}

function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join(' | ')
}

export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000

export function execaRunner(baseEnv: Record<string, string | undefined> = {}): Runner {
  return {
    async run(command, args, options = {}) {
      try {
        // Loaded on the first process, not at start-up: execa is ~140 modules, and most runs of
        // nodes list, status or version start none.
        const {execa} = await import('execa')
        const child = execa(command, [...args], {
          cwd: options.cwd,
          env: {...baseEnv, ...options.env},
          input: options.input,
          timeout: options.timeout ?? DEFAULT_TIMEOUT_MS,
          cancelSignal: options.cancelSignal,
          reject: false,
          ...(options.inherit ? {stdio: 'inherit' as const} : {stdin: options.input === undefined ? 'ignore' as const : 'pipe' as const}),
          all: false,
          lines: false,
          stripFinalNewline: true,
        })
        if (options.onLine) {
          const onLine = options.onLine
          for (const stream of [child.stdout, child.stderr]) {
            let buffered = ''
            stream?.on('data', (chunk: Buffer) => {
              buffered += chunk.toString()
              const parts = buffered.split('\n')
              buffered = parts.pop() ?? ''
              for (const line of parts) onLine(line)
            })
          }
        }
        const result = await child
        if (result.failed && (result.exitCode === undefined || result.isCanceled || result.timedOut)) {
          throw result
        }
        const out: RunResult = {exitCode: result.exitCode ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '')}
        if (out.exitCode !== 0 && options.reject !== false) {
          throw new ExternalCommandError(command, args, out.exitCode, tail(out.stderr || out.stdout))
        }
        return out
      } catch (error) {
        if (error instanceof ExternalCommandError) throw error
        const e = error as ExecaError & {code?: string}
        if (e.code === 'ENOENT') {
          const pkg = PACKAGE_OF[command]
          throw new PreconditionError(`${command} is not installed`, pkg ? `apt-get install ${pkg}` : undefined)
        }
        const why = e.timedOut ? 'timed out' : e.isCanceled ? 'was interrupted' : e.signal ? `was killed by ${e.signal}` : 'failed'
        throw new ExternalCommandError(command, args, e.exitCode, tail(String(e.stderr ?? '')), `${[command, ...args].join(' ')} ${why}`)
      }
    },
  }
}
