import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import ImageBuild from '../../src/commands/image/build.js'
import {STATE} from '../../src/system/paths.js'
import {runCommand} from '../support/golden.js'

/**
 * Opt-in: a full Ubuntu build needs a reachable Ubuntu mirror and the ubuntu-keyring package.
 *   apt-get install ubuntu-keyring
 *   PXEROOT_TEST_UBUNTU=noble PXEROOT_TEST_UBUNTU_MIRROR=http://archive.ubuntu.com/ubuntu npx vitest run test/images/ubuntu.test.ts
 * (PXEROOT_TEST_UBUNTU=jammy for jammy; the mirror defaults to the recipe's.)
 */
const suite = process.env.PXEROOT_TEST_UBUNTU
describe.skipIf(!suite)(`a full ubuntu-${suite} build (opt-in)`, () => {
  it('builds a revision with linux-image-generic, a world-readable kernel and an NFS initramfs', async () => {
    const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-ubuntu-'))
    try {
      await fs.mkdir(path.join(prefix, 'etc/pxeroot'), {recursive: true})
      await fs.writeFile(path.join(prefix, STATE.siteFile), 'server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n')
      const mirror = process.env.PXEROOT_TEST_UBUNTU_MIRROR
      const r = await runCommand(ImageBuild, [`ubuntu-${suite}`, '--root', prefix, '--json', ...(mirror ? ['--mirror', mirror] : [])])
      expect(r.code, r.error?.message).toBe(0)
      const tftp = path.join(prefix, 'var/lib/tftpboot/pxeroot', `ubuntu-${suite}`, '1')
      // Ubuntu installs /boot/vmlinuz-* 0600; tftpd only serves world-readable files.
      expect((await fs.stat(path.join(tftp, 'vmlinuz'))).mode & 0o777).toBe(0o644)
      const manifest = JSON.parse(await fs.readFile(path.join(prefix, 'srv/pxeroot/images', `ubuntu-${suite}`, '1/manifest.json'), 'utf8')) as {packages: {name: string}[]}
      expect(manifest.packages.map((p) => p.name)).toContain('linux-image-generic')
    } finally {
      await execa('rm', ['-rf', '--one-file-system', '--', prefix])
    }
  }, 3_600_000)
})
