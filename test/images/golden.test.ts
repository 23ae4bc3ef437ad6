import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageList from '../../src/commands/image/list.js'
import ImageShow from '../../src/commands/image/show.js'
import {bootFiles, revisionManifest, revisionRootfs} from '../../src/images/layout.js'
import {type Manifest} from '../../src/images/manifest.js'
import {type Golden, goldenImage, removeGoldenRoot, runCommand} from '../support/golden.js'

/** The one real debootstrap build every image test shares (built on first use, then cached). */
describe('a golden debian-bookworm image built by image build', () => {
  let g: Golden
  let rootfs: string
  let manifest: Manifest

  beforeAll(async () => {
    g = await goldenImage()
    rootfs = g.root.resolve(revisionRootfs(g.site, g.ref))
    manifest = JSON.parse(await fs.readFile(g.root.resolve(revisionManifest(g.site, g.ref)), 'utf8')) as Manifest
  })
  afterAll(async () => {
    if (g) await removeGoldenRoot(g)
  })

  const read = (rel: string) => fs.readFile(path.join(rootfs, rel), 'utf8')

  it('boots its root over NFS: initramfs conf.d drop-in, and the initrd holds scripts/nfs, nfsmount, ipconfig and NIC drivers', async () => {
    expect(await read('etc/initramfs-tools/conf.d/pxeroot')).toMatch(/^BOOT=nfs$[\s\S]*^MODULES=netboot$/m)
    const {stdout} = await execa('chroot', [rootfs, 'lsinitramfs', `/boot/initrd.img-${manifest.kernel}`])
    const files = stdout.split('\n')
    expect(files).toContain('scripts/nfs')
    expect(files.some((f) => f.endsWith('bin/nfsmount'))).toBe(true)
    expect(files.some((f) => f.endsWith('bin/ipconfig'))).toBe(true)
    expect(files.some((f) => f.endsWith('/e1000/e1000.ko'))).toBe(true)
    expect(files.some((f) => f.endsWith('/virtio_net.ko'))).toBe(true)
    expect(files.some((f) => /\/fs\/nfs\/nfsv3\.ko$/.test(f))).toBe(true)
  })

  it('has no / line in fstab and leaves the boot NIC alone (networkd, NetworkManager, wait-online, apt timers)', async () => {
    const fstab = (await read('etc/fstab')).split('\n').filter((l) => l.trim() && !l.startsWith('#'))
    expect(fstab.filter((l) => l.split(/\s+/)[1] === '/')).toEqual([])
    expect(await read('etc/systemd/network/00-pxeroot-nfsroot.network')).toMatch(/KernelCommandLine=nfsroot[\s\S]*Unmanaged=yes/)
    expect(await read('etc/NetworkManager/conf.d/00-pxeroot-nfsroot.conf')).toContain('unmanaged-devices=')
    for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'unattended-upgrades.service', 'systemd-networkd-wait-online.service']) {
      expect(await fs.readlink(path.join(rootfs, 'etc/systemd/system', unit))).toBe('/dev/null')
    }
  })

  it('carries no machine identity: empty (not missing) machine-id, no SSH host keys, a neutral hostname', async () => {
    const st = await fs.stat(path.join(rootfs, 'etc/machine-id'))
    expect(st.isFile() && st.size === 0).toBe(true)
    expect((await fs.readdir(path.join(rootfs, 'etc/ssh'))).filter((f) => f.startsWith('ssh_host_'))).toEqual([])
    expect(await fs.stat(path.join(rootfs, 'usr/sbin/sshd'))).toBeTruthy()
    expect((await read('etc/hostname')).trim()).toBe('pxeroot-image')
  })

  it('keeps none of the build scaffolding: no policy-rc.d, no debootstrap/, its own resolv.conf rather than the host\'s', async () => {
    await expect(fs.lstat(path.join(rootfs, 'usr/sbin/policy-rc.d'))).rejects.toThrow(/ENOENT/)
    await expect(fs.lstat(path.join(rootfs, 'debootstrap'))).rejects.toThrow(/ENOENT/)
    const resolv = await read('etc/resolv.conf')
    expect(resolv).toMatch(/^# pxeroot:/)
    expect(resolv).not.toBe(await fs.readFile('/etc/resolv.conf', 'utf8'))
  })

  it('publishes the kernel and initrd world-readable under the revision\'s tftp path', async () => {
    const files = bootFiles(g.ref)
    for (const f of [files.kernel, files.initrd]) {
      const st = await fs.stat(g.root.resolve(path.posix.join(g.site.paths.tftp, f)))
      expect(st.mode & 0o777).toBe(0o644)
      expect(st.size).toBeGreaterThan(1_000_000)
    }
    expect(manifest.sizes.initrdBytes).toBe((await fs.stat(path.join(rootfs, 'boot', `initrd.img-${manifest.kernel}`))).size)
  })

  it('records a manifest with the recipe, mirror, kernel and every package with its version', async () => {
    expect(manifest).toMatchObject({format: 1, image: 'debian-bookworm', revision: 1, origin: 'build', suite: 'bookworm', mirror: 'http://deb.debian.org/debian'})
    expect(manifest.kernel).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/)
    const names = manifest.packages.map((p) => p.name)
    for (const p of ['linux-image-amd64', `linux-image-${manifest.kernel}`, 'initramfs-tools', 'openssh-server', 'systemd-sysv', 'zstd']) expect(names).toContain(p)
    expect(manifest.packages.every((p) => p.version.length > 0)).toBe(true)
    expect(await read('etc/apt/sources.list')).toContain('bookworm-security')
  })

  it('image list --json and image show report the revision, its kernel and size', async () => {
    const list = await runCommand(ImageList, ['--root', g.rootPrefix, '--json'])
    expect(list.code).toBe(0)
    const images = (list.result as {images: {name: string, current: number, revisions: {ref: string, kernel: string, rootfsBytes: number}[]}[]}).images
    expect(images).toHaveLength(1)
    expect(images[0]).toMatchObject({name: 'debian-bookworm', current: 1})
    expect(images[0].revisions[0]).toMatchObject({ref: 'debian-bookworm@1', kernel: manifest.kernel})
    const show = await runCommand(ImageShow, ['debian-bookworm@1', '--root', g.rootPrefix, '--json'])
    expect(show.result).toMatchObject({revision: 1, current: true, kernel: manifest.kernel, nodes: []})
    expect((await runCommand(ImageShow, ['debian-bookworm@7', '--root', g.rootPrefix])).code).toBe(3)
  })
})
