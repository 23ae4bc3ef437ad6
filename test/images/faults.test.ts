import {execa} from 'execa'
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, openSync, promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageBuild from '../../src/commands/image/build.js'
import {currentRevision, imageDir} from '../../src/images/layout.js'
import {listRevisions} from '../../src/images/store.js'
import {parseSite} from '../../src/config/site-file.js'
import {makeRoot, STATE} from '../../src/system/paths.js'
import {CACHE, goldenRevision, REPO, runCommand} from '../support/golden.js'

/** A small recipe (MODULES=list initrd) so the one build that must succeed here stays quick. */
const SITE = [
  'server: 10.77.0.1',
  'subnet: 10.77.0.0/24',
  'nodes:',
  '  range: 10.77.0.100-10.77.0.150',
  'images:',
  `  debCache: ${path.join(CACHE, 'debs')}`,
  'recipes:',
  '  tiny:',
  '    extends: debian-bookworm',
  '    initramfsModules: [e1000, virtio_net, virtio_pci, af_packet, nfs, nfsv3]',
  '    postInstall:',
  '      - [sh, -c, "echo built-by-recipe > /etc/pxeroot-recipe"]',
  '',
].join('\n')

describe('a build killed at any point never publishes, and the next build cleans up after it', () => {
  let prefix: string
  const root = () => makeRoot(prefix)
  const site = parseSite(SITE)
  const imageRoot = () => root().resolve(imageDir(site, 'faulty'))
  const staging = async () => (await fs.readdir(imageRoot()).catch(() => [] as string[])).filter((f) => f.startsWith('.staging-'))
  const mountsUnderRoot = async () => (await execa('findmnt', ['-rn', '-o', 'TARGET'])).stdout.split('\n').filter((m) => m.startsWith(prefix))
  let devBefore: string[]
  let resolvBefore: string

  beforeAll(async () => {
    // These builds and the golden image's share the .deb cache (images.debCache), which two
    // debootstraps must not fill at once (each writes the same .deb into it): on a fresh machine
    // the golden build, which another test file may have started, fills it first.
    await goldenRevision()
    prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-faults-'))
    await fs.mkdir(path.join(prefix, 'etc/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(prefix, STATE.siteFile), SITE)
    devBefore = await hostDev()
    resolvBefore = await fs.readFile('/etc/resolv.conf', 'utf8')
  })
  afterAll(async () => {
    if (prefix && (await mountsUnderRoot()).length === 0) await execa('rm', ['-rf', '--one-file-system', '--', prefix])
  })

  function startBuild(): {child: ChildProcess, log: string, exited: Promise<number | null>} {
    const log = path.join(prefix, `build-${Date.now()}.log`)
    const out = openSync(log, 'w')
    // Its own process group, so the kill reaches debootstrap, unshare, chroot and apt like a real SIGKILL of a cron job's group.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/support/image-cli.ts'), 'build', 'tiny', '--name', 'faulty', '--root', prefix], {cwd: REPO, detached: true, env: {...process.env, CI: 'true'}, stdio: ['ignore', out, out]})
    closeSync(out)
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    return {child, log, exited}
  }

  async function waitFor(what: string, check: () => Promise<boolean>, seconds: number): Promise<void> {
    const deadline = Date.now() + seconds * 1000
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(250)
    }
  }

  /** The host's /dev but its loop devices: the kernel adds loopN whenever any process (another test file) needs one. */
  const hostDev = async () => (await fs.readdir('/dev')).filter((d) => !/^loop\d+$/.test(d)).sort()

  async function killGroup(build: {child: ChildProcess, exited: Promise<number | null>}): Promise<void> {
    process.kill(-build.child.pid!, 'SIGKILL')
    await build.exited
    // --kill-child takes the namespaced tree down with unshare; give the kernel a moment to reap it.
    await waitFor('the killed namespace to disappear', async () => (await mountsUnderRoot()).length === 0, 20).catch(() => {})
  }

  async function assertNothingPublished(): Promise<void> {
    expect(await listRevisions(root(), site, 'faulty')).toEqual([])
    expect(await currentRevision(root(), site, 'faulty')).toBeUndefined()
    expect(await fs.readdir(root().resolve('/var/lib/tftpboot/pxeroot/faulty')).catch(() => [])).toEqual([])
    expect(await mountsUnderRoot()).toEqual([])
    expect(await hostDev()).toEqual(devBefore)
    expect((await fs.stat('/dev/null')).isCharacterDevice()).toBe(true)
    expect(await fs.readFile('/etc/resolv.conf', 'utf8')).toBe(resolvBefore)
  }

  it('killed mid-debootstrap: a concurrent build of the same image exits busy (5); nothing is published, nothing stays mounted', async () => {
    const build = startBuild()
    await waitFor('debootstrap to be unpacking packages', async () => {
      for (const s of await staging()) {
        const work = path.join(imageRoot(), s, 'work')
        if (await fs.stat(path.join(work, 'debootstrap')).catch(() => undefined) && await fs.stat(path.join(work, 'var/lib/dpkg')).catch(() => undefined)) return true
      }
      return false
    }, 180)
    const second = await runCommand(ImageBuild, ['tiny', '--name', 'faulty', '--root', prefix])
    expect(second.code).toBe(5)
    await killGroup(build)
    await assertNothingPublished()
    expect(await staging()).toHaveLength(1)
  }, 300_000)

  it('killed mid-apt inside the chroot (with /proc, /sys, /dev mounted in its namespace): still nothing published or mounted', async () => {
    const build = startBuild()
    await waitFor('apt to run in the chroot', async () => (await fs.readFile(build.log, 'utf8').catch(() => '')).includes('Install the kernel and packages ...'), 240)
    await sleep(4000)
    await killGroup(build)
    await assertNothingPublished()
  }, 300_000)

  it('the next build removes the stale staging trees and publishes revision 1 of the site recipe', async () => {
    const r = await runCommand(ImageBuild, ['tiny', '--name', 'faulty', '--root', prefix, '--json'])
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({ref: 'faulty@1'})
    expect(await listRevisions(root(), site, 'faulty')).toEqual([1])
    expect(await staging()).toEqual([])
    const rootfs = path.join(imageRoot(), '1', 'rootfs')
    expect(await fs.readFile(path.join(rootfs, 'etc/initramfs-tools/conf.d/pxeroot'), 'utf8')).toContain('MODULES=list')
    expect(await fs.readFile(path.join(rootfs, 'etc/pxeroot-recipe'), 'utf8')).toBe('built-by-recipe\n')
    expect(await mountsUnderRoot()).toEqual([])
  }, 600_000)
})
