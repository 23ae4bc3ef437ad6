/**
 * The image's RBD boot (issue 17): the initramfs boot script parses the kernel command line that
 * boot/rbd-root.ts renders (the contract between the server and the node), refuses a malformed
 * one in one line the console shows, and what configureRbdRoot writes into an image. The boot
 * itself (map, lock, mount) is proven in a VM: test/lab/rbd.test.ts.
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {rbdRootArgs} from '../../src/boot/rbd-root.js'
import {configureRbdRoot, NETWORKD_RBDROOT, RBD_BOOT_SCRIPT, RBD_BOOT_SCRIPT_TEXT, RBD_FAILED, RBD_HOOK, RBD_HOOK_TEXT, rbdInitrdChanged} from '../../src/images/rbdroot.js'
import {hostFiles} from '../../src/system/files.js'

let dir = ''
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbdroot-'))
})
afterEach(async () => {
  await fs.rm(dir, {recursive: true, force: true})
})

const KEY = 'AQDZ3RJrZ0fiHRAA/5Nhiv1C3VO+2RPCfyMVmA=='

/** Sources the boot script in dash (the initramfs's sh is dash's kin) with the command line given; panic() prints and exits as the console would show it. */
async function parse(cmdline: string): Promise<{code: number, out: string}> {
  await fs.writeFile(path.join(dir, 'rbd'), RBD_BOOT_SCRIPT_TEXT)
  await fs.writeFile(path.join(dir, 'cmdline'), `${cmdline}\n`)
  const probe = [
    'panic() { echo "$*"; exit 3; }',
    `. ${path.join(dir, 'rbd')}`,
    'rbd_parse',
    'echo "mons=$RBD_MONS pool=$RBD_POOL ns=$RBD_NS image=$RBD_IMAGE user=$RBD_USER key=$RBD_KEY name=$RBD_NAME"',
  ].join('\n')
  const r = await execa('dash', ['-c', probe], {reject: false, env: {RBD_CMDLINE: path.join(dir, 'cmdline')}})
  return {code: r.exitCode ?? -1, out: r.stdout.trim()}
}

describe('the boot script', () => {
  it('is valid sh, and so is the hook', async () => {
    for (const text of [RBD_BOOT_SCRIPT_TEXT, RBD_HOOK_TEXT]) {
      await fs.writeFile(path.join(dir, 'script'), text)
      expect((await execa('dash', ['-n', path.join(dir, 'script')], {reject: false})).exitCode).toBe(0)
    }
  })

  it('reads what rbdRootArgs renders: monitors, pool, namespace, image, user and key', async () => {
    const args = rbdRootArgs({monitors: ['10.77.0.253:6789', '10.77.0.252:6789'], pool: 'rbd', namespace: 'node01', image: 'root', user: 'node01', secret: KEY})
    const r = await parse(`BOOT_IMAGE=x console=ttyS0 ${args} systemd.run="/usr/bin/grep -H . /etc/hostname"`)
    expect(r).toEqual({code: 0, out: `mons=10.77.0.253:6789,10.77.0.252:6789 pool=rbd ns=node01 image=root user=node01 key=${KEY} name=rbd/node01/root`})
  })

  it('refuses a command line without the image, the user or the key in one FAILED line naming the parameter', async () => {
    const cases: [string, RegExp][] = [
      ['boot=rbd ip=dhcp rw', /pxeroot\.rbd=MONS\/POOL\/NAMESPACE\/IMAGE with boot=rbd \(it has ""\)/],
      ['boot=rbd pxeroot.rbd=10.0.0.1:6789/rbd/root pxeroot.rbd_user=n pxeroot.rbd_key=k', /pxeroot\.rbd=MONS\/POOL\/NAMESPACE\/IMAGE with boot=rbd \(it has "10\.0\.0\.1:6789\/rbd\/root"\)/],
      ['boot=rbd pxeroot.rbd=10.0.0.1:6789/rbd/n/root/x pxeroot.rbd_user=n pxeroot.rbd_key=k', /it has "10\.0\.0\.1:6789\/rbd\/n\/root\/x"/],
      ['boot=rbd pxeroot.rbd=/rbd/n/root pxeroot.rbd_user=n pxeroot.rbd_key=k', /it has "\/rbd\/n\/root"/],
      [rbdRootArgs({monitors: ['10.0.0.1:6789'], pool: 'rbd', namespace: 'n', image: 'root', user: 'n'}), /needs pxeroot\.rbd_key=SECRET \(the node's cephx key\)/],
      ['boot=rbd pxeroot.rbd=10.0.0.1:6789/rbd/n/root pxeroot.rbd_key=k', /needs pxeroot\.rbd_user=NAME/],
    ]
    for (const [cmdline, message] of cases) {
      const r = await parse(cmdline)
      expect(r.code, cmdline).toBe(3)
      expect(r.out.split('\n'), cmdline).toHaveLength(1)
      expect(r.out.startsWith(`${RBD_FAILED} `), cmdline).toBe(true)
      expect(r.out, cmdline).toMatch(message)
    }
  })

  it('takes an empty namespace as the pool\'s default one', async () => {
    const r = await parse(`boot=rbd pxeroot.rbd=10.0.0.1:6789/rbd//root pxeroot.rbd_user=n pxeroot.rbd_key=${KEY}`)
    expect(r.out).toContain('ns= image=root')
    expect(r.out).toContain('name=rbd/root')
  })
})

describe('configureRbdRoot', () => {
  it('writes the boot script, an executable hook that adds rbd and libceph, and the networkd file that leaves the boot NIC alone', async () => {
    await configureRbdRoot(hostFiles, dir)
    expect(await fs.readFile(path.join(dir, RBD_BOOT_SCRIPT.image), 'utf8')).toBe(RBD_BOOT_SCRIPT_TEXT)
    const hook = path.join(dir, RBD_HOOK.image)
    // mkinitramfs runs only executable hooks.
    expect((await fs.stat(hook)).mode & 0o777).toBe(0o755)
    expect(await fs.readFile(hook, 'utf8')).toMatch(/^manual_add_modules rbd libceph /m)
    expect(await fs.readFile(path.join(dir, 'etc/systemd/network/00-pxeroot-rbdroot.network'), 'utf8')).toBe(NETWORKD_RBDROOT)
    expect(NETWORKD_RBDROOT).toMatch(/^KernelCommandLine=pxeroot\.rbd$/m)
    expect(NETWORKD_RBDROOT).toMatch(/^Unmanaged=yes$/m)
  })

  it('on an image that has them writes nothing (an update stays a no-op); on one built before them, says what it added and that the initrd must follow', async () => {
    expect(await configureRbdRoot(hostFiles, dir)).toEqual([RBD_BOOT_SCRIPT.image, RBD_HOOK.image, 'etc/systemd/network/00-pxeroot-rbdroot.network'])
    const mtime = (await fs.stat(path.join(dir, RBD_BOOT_SCRIPT.image))).mtimeMs
    expect(await configureRbdRoot(hostFiles, dir)).toEqual([])
    expect((await fs.stat(path.join(dir, RBD_BOOT_SCRIPT.image))).mtimeMs).toBe(mtime)
    // Only the networkd file changed: the initrd stays as it is.
    await fs.writeFile(path.join(dir, 'etc/systemd/network/00-pxeroot-rbdroot.network'), 'old\n')
    const networkd = await configureRbdRoot(hostFiles, dir)
    expect(networkd).toEqual(['etc/systemd/network/00-pxeroot-rbdroot.network'])
    expect(rbdInitrdChanged(networkd)).toBe(false)
    // A hook that lost its executable bit (mkinitramfs would skip it): rewritten, initrd rebuilt.
    await fs.chmod(path.join(dir, RBD_HOOK.image), 0o644)
    const hook = await configureRbdRoot(hostFiles, dir)
    expect(hook).toEqual([RBD_HOOK.image])
    expect(rbdInitrdChanged(hook)).toBe(true)
  })
})
