import {promises as fs} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'

export const KERNEL = '6.1.0-99-test'

/** A revision's manifest in the shape image build writes. */
export function manifestFor(image: string, revision: number, packages: Record<string, string> = {'iputils-ping': '3:20221126-1', 'libc6': '2.36-9+deb12u7'}): Record<string, unknown> {
  return {
    format: 1,
    image,
    revision,
    origin: 'build',
    recipe: {name: 'debian-bookworm'},
    suite: 'bookworm',
    mirror: 'http://deb.debian.org/debian',
    kernel: KERNEL,
    packages: Object.entries(packages).map(([name, version]) => ({name, version, arch: 'amd64'})),
    sizes: {rootfsBytes: 1, kernelBytes: 1, initrdBytes: 1},
    storage: 'directory',
    builtAt: '2025-01-01T00:00:00.000Z',
    buildSeconds: 1,
    pxerootVersion: '0.1.0',
  }
}

async function sh(cmd: string, args: string[]): Promise<void> {
  await execa(cmd, args)
}

export async function hasTool(cmd: string): Promise<boolean> {
  return execa('sh', ['-c', `command -v ${cmd}`], {reject: false}).then((r) => r.exitCode === 0)
}

/**
 * A revision tree with everything a root filesystem holds that a careless copy loses: odd owners,
 * setuid, sticky dirs, hard links, symlinks (dangling and absolute), device nodes, a FIFO, user
 * xattrs, a file capability and an ACL.
 */
export async function makeSyntheticRevision(revDir: string, image: string, revision: number): Promise<{acl: boolean}> {
  const r = path.join(revDir, 'rootfs')
  for (const d of ['etc', 'usr/bin', 'usr/share/doc', 'dev', 'boot', 'home/user', 'var/lib/x']) await fs.mkdir(path.join(r, d), {recursive: true})
  await fs.mkdir(path.join(r, 'tmp'))
  await fs.chmod(path.join(r, 'tmp'), 0o1777)
  await fs.writeFile(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n', {mode: 0o644})
  await fs.writeFile(path.join(r, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', {mode: 0o640})
  await fs.chown(path.join(r, 'etc/shadow'), 0, 42)
  await fs.writeFile(path.join(r, 'home/user/notes'), 'mine\n', {mode: 0o600})
  await fs.chown(path.join(r, 'home/user/notes'), 12345, 54321)
  await fs.chown(path.join(r, 'home/user'), 1000, 1000)
  await fs.chmod(path.join(r, 'home/user'), 0o700)
  await fs.copyFile('/bin/true', path.join(r, 'usr/bin/su'))
  await fs.chmod(path.join(r, 'usr/bin/su'), 0o4755)
  await fs.writeFile(path.join(r, 'usr/bin/perl'), '#!perl\n', {mode: 0o755})
  await fs.link(path.join(r, 'usr/bin/perl'), path.join(r, 'usr/bin/perl5.36'))
  await fs.symlink('usr/bin', path.join(r, 'bin'))
  await fs.symlink('/usr/share/zoneinfo/Etc/UTC', path.join(r, 'etc/localtime'))
  await fs.symlink('../../nowhere', path.join(r, 'usr/share/doc/dangling'))
  await sh('mknod', ['-m', '0666', path.join(r, 'dev/null'), 'c', '1', '3'])
  await sh('mknod', ['-m', '0660', path.join(r, 'dev/loop7'), 'b', '7', '7'])
  await sh('mkfifo', ['-m', '0620', path.join(r, 'dev/initctl')])
  await sh('setfattr', ['-n', 'user.pxeroot.note', '-v', 'kept', path.join(r, 'etc/passwd')])
  await fs.copyFile('/bin/true', path.join(r, 'usr/bin/ping'))
  await fs.chmod(path.join(r, 'usr/bin/ping'), 0o755)
  await sh('setcap', ['cap_net_raw+ep', path.join(r, 'usr/bin/ping')])
  const acl = await hasTool('setfacl')
  if (acl) {
    await sh('setfacl', ['-m', 'u:1000:rwx', path.join(r, 'var/lib/x')])
    await sh('setfacl', ['-d', '-m', 'g:54321:rx', path.join(r, 'var/lib/x')])
  }
  await fs.writeFile(path.join(r, `boot/vmlinuz-${KERNEL}`), 'kernel bytes\n', {mode: 0o600})
  await fs.writeFile(path.join(r, `boot/initrd.img-${KERNEL}`), 'initrd bytes\n', {mode: 0o600})
  await fs.symlink(`boot/vmlinuz-${KERNEL}`, path.join(r, 'vmlinuz'))
  await fs.writeFile(path.join(revDir, 'manifest.json'), JSON.stringify(manifestFor(image, revision), null, 2) + '\n')
  return {acl}
}

/** Owner, mode, type, device, link target, size and hard-link group of every entry, by relative path. */
export async function treeFacts(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const inodes = new Map<number, string>()
  async function walk(d: string): Promise<void> {
    for (const name of (await fs.readdir(d)).sort()) {
      const p = path.join(d, name)
      const st = await fs.lstat(p)
      const rel = path.relative(dir, p)
      let extra = ''
      if (st.isSymbolicLink()) extra = `-> ${await fs.readlink(p)}`
      else if (st.isFile()) {
        extra = `size=${st.size}`
        if (st.nlink > 1) {
          const first = inodes.get(st.ino)
          if (first) extra += ` link=${first}`
          else inodes.set(st.ino, rel)
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) extra = `rdev=${st.rdev}`
      out.set(rel, `${st.uid}:${st.gid} ${st.mode.toString(8)} ${extra}`)
      if (st.isDirectory()) await walk(p)
    }
  }
  await walk(dir)
  return out
}
