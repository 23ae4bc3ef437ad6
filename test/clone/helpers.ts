import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../../src/system/context.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {hostFiles} from '../../src/system/files.js'

/** Runs a command for test setup; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[], opts: {cwd?: string, input?: string} = {}): string {
  const r = spawnSync(cmd, args, {encoding: 'utf8', timeout: 300_000, cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 28})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`)
  return r.stdout
}

export type FsType = 'btrfs' | 'xfs' | 'ext4'

export interface LoopFs {
  mnt: string
  dev: string
  cleanup: () => Promise<void>
}

/** A real filesystem on a loop device, made for one test file and detached afterwards. */
export async function loopFs(type: FsType, sizeMiB = 512): Promise<LoopFs> {
  const base = await fs.mkdtemp(`/var/tmp/pxeroot-clone-${type}-`)
  const img = path.join(base, 'fs.img')
  const mnt = path.join(base, 'mnt')
  await fs.mkdir(mnt)
  sh('truncate', ['-s', `${sizeMiB}M`, img])
  const mkfs: Record<FsType, [string, string[]]> = {
    btrfs: ['mkfs.btrfs', ['-q', '-f', img]],
    xfs: ['mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', img]],
    ext4: ['mkfs.ext4', ['-q', '-F', img]],
  }
  sh(...mkfs[type])
  const dev = sh('losetup', ['-f', '--show', img]).trim()
  try {
    sh('mount', [dev, mnt])
  } catch (error) {
    sh('losetup', ['-d', dev])
    throw error
  }
  return {
    mnt,
    dev,
    async cleanup() {
      for (let i = 0; i < 5; i++) {
        if (spawnSync('umount', [mnt]).status === 0) break
        await new Promise((r) => setTimeout(r, 300))
      }
      if (spawnSync('mountpoint', ['-q', mnt]).status === 0) spawnSync('umount', ['-l', mnt])
      spawnSync('losetup', ['-d', dev])
      await fs.rm(base, {recursive: true, force: true})
    },
  }
}

export const SITE = `server: 192.168.0.10
subnet: 192.168.0.0/24
dns: [192.168.0.10, 8.8.8.8]
domain: exemplo.com
nodes:
  range: 192.168.0.200-192.168.0.210
boot:
  image: lab
`

export async function writeSite(rootDir: string, site = SITE): Promise<void> {
  await fs.mkdir(path.join(rootDir, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(rootDir, 'etc/pxeroot/pxeroot.yaml'), site)
}

export function context(rootDir: string): Context & {lines: string[]} {
  const lines: string[] = []
  return {root: makeRoot(rootDir), runner: execaRunner(), files: hostFiles, log: (l) => lines.push(l), signal: new AbortController().signal, json: false, lines}
}

/**
 * A small root with everything a copy can get wrong: hard links, absolute, relative and dangling
 * symlinks, a device node, a FIFO, a sparse file, setuid and sticky modes, odd numeric owners,
 * user and trusted xattrs, a POSIX ACL and a file capability. Plus an image host key that clones
 * must not inherit.
 */
export async function makeSyntheticTree(dir: string): Promise<void> {
  const w = async (rel: string, data: string, mode = 0o644) => {
    await fs.mkdir(path.dirname(path.join(dir, rel)), {recursive: true})
    await fs.writeFile(path.join(dir, rel), data, {mode})
    await fs.chmod(path.join(dir, rel), mode)
  }
  await w('etc/hostname', 'golden\n')
  await w('etc/hosts', '127.0.0.1 localhost\n')
  await w('etc/machine-id', '')
  await w('etc/os-release', 'PRETTY_NAME="synthetic"\n')
  await w('etc/ssh/ssh_host_ed25519_key', 'IMAGE KEY THAT MUST NOT SURVIVE\n', 0o600)
  await w('etc/ssh/sshd_config', 'PermitRootLogin no\n')
  await w('usr/bin/ping', '#!/bin/sh\necho ping\n', 0o755)
  await w('usr/bin/su', '#!/bin/sh\n', 0o4755)
  await w('usr/bin/hl1', 'hard linked\n', 0o755)
  await fs.link(path.join(dir, 'usr/bin/hl1'), path.join(dir, 'usr/bin/hl2'))
  await w('usr/share/doc/readme', 'x'.repeat(100_000))
  for (let i = 0; i < 200; i++) await w(`usr/lib/many/f${i}`, `file ${i}\n`)
  await fs.symlink('usr/bin', path.join(dir, 'bin'))
  await fs.symlink('/etc/os-release', path.join(dir, 'usr/lib/os-release'))
  await fs.symlink('/nonexistent/target', path.join(dir, 'usr/lib/dangling'))
  await fs.mkdir(path.join(dir, 'dev'))
  sh('mknod', ['-m', '666', path.join(dir, 'dev/null'), 'c', '1', '3'])
  sh('mkfifo', ['-m', '600', path.join(dir, 'dev/initctl')])
  await fs.mkdir(path.join(dir, 'tmp'))
  await fs.chmod(path.join(dir, 'tmp'), 0o1777)
  await w('home/alice/.profile', 'alice\n', 0o640)
  await fs.chown(path.join(dir, 'home/alice'), 1000, 1000)
  await fs.chown(path.join(dir, 'home/alice/.profile'), 12345, 54321)
  await w('root/.bashrc', 'root rc\n', 0o600)
  await w('var/log/dpkg.log', 'golden log\n')
  const sparse = path.join(dir, 'var/lib/sparse.img')
  await fs.mkdir(path.dirname(sparse), {recursive: true})
  sh('truncate', ['-s', '64M', sparse])
  sh('setfattr', ['-n', 'user.pxeroot', '-v', 'kept', path.join(dir, 'etc/os-release')])
  sh('setfattr', ['-n', 'trusted.overlay', '-v', 'y', path.join(dir, 'usr/lib/many/f1')])
  sh('setfacl', ['-m', 'u:4242:r', path.join(dir, 'usr/share/doc/readme')])
  sh('setcap', ['cap_net_raw+ep', path.join(dir, 'usr/bin/ping')])
}

/**
 * Makes revision N of an image under a --root: on btrfs a read-only subvolume (as the image
 * store publishes them), elsewhere a directory; `fill` writes the tree.
 */
export async function makeRevision(rootDir: string, image: string, revision: number, fill: (dir: string) => Promise<void>, onBtrfs: boolean): Promise<string> {
  const revDir = path.join(rootDir, 'srv/pxeroot/images', image, String(revision))
  await fs.mkdir(revDir, {recursive: true})
  const rootfs = path.join(revDir, 'rootfs')
  if (onBtrfs) sh('btrfs', ['-q', 'subvolume', 'create', rootfs])
  else await fs.mkdir(rootfs)
  await fill(rootfs)
  if (onBtrfs) sh('btrfs', ['property', 'set', '-ts', rootfs, 'ro', 'true'])
  const current = path.join(rootDir, 'srv/pxeroot/images', image, 'current')
  await fs.rm(current, {force: true})
  await fs.symlink(String(revision), current)
  return rootfs
}

/** Paths cloning changes on purpose (identity); everything else must equal the revision. */
export const IDENTITY_EXCLUDES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/machine-id', '/var/lib/dbus/', '/etc/ssh/ssh_host_*', '/etc/ssh/ssh_known_hosts']

/** rsync's itemised differences (checksums, owners, modes, links, devices, ACLs, xattrs), minus
 * the parent directories whose mtime identity files changed. Empty means identical. */
export function treeDifferences(source: string, clone: string, excludes = IDENTITY_EXCLUDES): string[] {
  const out = sh('rsync', ['-ainHAXc', '--numeric-ids', '--delete', '--dry-run', ...excludes.map((e) => `--exclude=${e}`), `${source}/`, `${clone}/`])
  return out.split('\n').filter(Boolean).filter((l) => !/^\.d\.\.t\.{6,} (etc\/|etc\/ssh\/|var\/lib\/)$/.test(l))
}

/** getfattr and getcap dumps of a tree, relative paths, identity files left out. */
export function attributeDump(dir: string): {xattrs: string, caps: string} {
  // getfattr -P exits 1 on dangling symlinks (it still dumps everything else); anything else is a failure.
  const g = spawnSync('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'hex', '.'], {cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28})
  const unexpected = g.stderr.split('\n').filter((l) => l && !/No such file or directory/.test(l))
  if (g.status !== 0 && unexpected.length > 0) throw new Error(`getfattr failed: ${unexpected.join(' | ')}`)
  const xattrs = g.stdout
    .split('\n\n').filter((block) => !/# file: \.\/(etc\/(hostname|hosts|resolv\.conf|machine-id|ssh\/ssh_)|var\/lib\/dbus)/.test(block)).sort().join('\n\n')
  const caps = sh('getcap', ['-r', '.'], {cwd: dir}).split('\n').filter(Boolean).sort().join('\n')
  return {xattrs, caps}
}
