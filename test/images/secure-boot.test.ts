import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SHIM} from '../../src/backends/loaders/grub.js'
import ImageShow from '../../src/commands/image/show.js'
import {bootFiles, revisionManifest, revisionRootfs} from '../../src/images/layout.js'
import {kernelTrust, type KernelTrust, type ModuleTrust} from '../../src/images/secure-boot.js'
import {runDoctor} from '../../src/services/doctor.js'
import {type Golden, goldenCopy, goldenImage, removeGoldenRoot, runCommand} from '../support/golden.js'
import {testContext} from '../support/tmp-root.js'

const MAGIC = Buffer.from('~Module signature appended~\n')

/** A module without its appended signature (struct module_signature: 8 bytes, then the big-endian signature length). */
function unsigned(module: Buffer): Buffer {
  if (!module.subarray(-MAGIC.length).equals(MAGIC)) return module
  const info = module.subarray(-MAGIC.length - 12, -MAGIC.length)
  return module.subarray(0, module.length - MAGIC.length - 12 - info.readUInt32BE(8))
}

/** Signs a module the way the kernel's sign-file does (detached PKCS#7, no certificates), with a key of our own. */
async function signed(module: Buffer, dir: string): Promise<Buffer> {
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/mok.key`, '-out', `${dir}/mok.pem`, '-subj', '/CN=pxeroot test MOK', '-days', '2'])
  await fs.writeFile(`${dir}/plain.ko`, module)
  await execa('openssl', ['cms', '-sign', '-binary', '-noattr', '-outform', 'DER', '-nosmimecap', '-md', 'sha256', '-signer', `${dir}/mok.pem`, '-inkey', `${dir}/mok.key`, '-in', `${dir}/plain.ko`, '-nocerts', '-out', `${dir}/sig.der`])
  const signature = await fs.readFile(`${dir}/sig.der`)
  const info = Buffer.alloc(12)
  info[2] = 2 // PKEY_ID_PKCS7
  info.writeUInt32BE(signature.length, 8)
  return Buffer.concat([module, signature, info, MAGIC])
}

interface Shown {
  secureBoot: {kernel: KernelTrust, modules: ModuleTrust}
}

describe('Secure Boot checks against a real golden revision (sbverify, modinfo, the host\'s shim)', () => {
  let g: Golden
  let scratch: string
  let kernelVersion: string
  let publishedKernel: string
  let signedKernel: Buffer
  const show = async () => {
    const r = await runCommand(ImageShow, [`${g.ref.image}@${g.ref.revision}`, '--root', g.rootPrefix, '--json'])
    expect(r.code, r.error?.message).toBe(0)
    return r.result as Shown
  }

  beforeAll(async () => {
    g = await goldenCopy('sbcheck')
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-sb-'))
    kernelVersion = (JSON.parse(await fs.readFile(g.root.resolve(revisionManifest(g.site, g.ref)), 'utf8')) as {kernel: string}).kernel
    publishedKernel = g.root.resolve(path.posix.join(g.site.paths.tftp, bootFiles(g.ref).kernel))
    signedKernel = await fs.readFile(publishedKernel)
  }, 15 * 60_000)
  afterAll(async () => {
    if (g) await removeGoldenRoot(g)
    if (scratch) await fs.rm(scratch, {recursive: true, force: true})
  })

  it('image show: Debian\'s kernel verifies against shim\'s vendor certificate, and there is no out-of-tree module', async () => {
    // The shared golden image, whose images directory is a link into the test cache (as an images directory on another disk would be).
    const shared = await goldenImage()
    try {
      const r = await runCommand(ImageShow, [`${shared.ref.image}@${shared.ref.revision}`, '--root', shared.rootPrefix, '--json'])
      const {secureBoot} = r.result as Shown
      expect(secureBoot.kernel).toMatchObject({status: 'trusted', trustedBy: 'CN=Debian Secure Boot CA', file: path.posix.join(g.site.paths.tftp, bootFiles(shared.ref).kernel)})
      expect(secureBoot.kernel.signers).toEqual([{subject: expect.stringMatching(/^CN=Debian Secure Boot Signer .* - linux$/), issuer: 'CN=Debian Secure Boot CA'}])
      expect(secureBoot.modules).toMatchObject({status: 'ok', outOfTree: 0, refused: []})
    } finally {
      await removeGoldenRoot(shared)
    }
  })

  it('a copy without its signature (sbattach --remove) is unsigned; one signed by a self-made key named "Debian Secure Boot CA" is not trusted', async () => {
    const ctx = testContext(scratch)
    const copy = path.join(scratch, 'vmlinuz')
    await fs.writeFile(copy, signedKernel)
    await execa('sbattach', ['--remove', copy])
    expect(await kernelTrust(ctx, copy, SHIM)).toMatchObject({status: 'unsigned', signers: []})
    // Only the name of the real CA: a check that matched names would be fooled, a signature check is not.
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${scratch}/ca.key`, '-out', `${scratch}/ca.pem`, '-subj', '/CN=Debian Secure Boot CA', '-days', '2'])
    await execa('sbsign', ['--key', `${scratch}/ca.key`, '--cert', `${scratch}/ca.pem`, '--output', `${copy}.fake`, copy])
    const fake = await kernelTrust(ctx, `${copy}.fake`, SHIM)
    expect(fake).toMatchObject({status: 'untrusted', signers: [{subject: 'CN=Debian Secure Boot CA', issuer: 'CN=Debian Secure Boot CA'}]})
    expect(fake.message).toMatch(/not by a key shim trusts.*"bad shim signature".*MOK/)
    expect(await kernelTrust(ctx, copy, {files: ['/nonexistent/shimx64.efi.signed'], pkg: 'shim-signed'})).toMatchObject({status: 'unknown', message: expect.stringMatching(/shim-signed is not installed/)})
  })

  it('image show and doctor name the out-of-tree modules lockdown refuses, and an unsigned published kernel', async () => {
    const rootfs = g.root.resolve(revisionRootfs(g.site, g.ref))
    const modules = path.join(rootfs, 'usr/lib/modules', kernelVersion)
    const own = await fs.readFile(path.join(modules, 'kernel/net/key/af_key.ko'))
    await fs.mkdir(path.join(modules, 'updates/dkms'), {recursive: true})
    await fs.mkdir(path.join(modules, 'extra'), {recursive: true})
    await fs.writeFile(path.join(modules, 'updates/dkms/unsigned.ko'), unsigned(own))
    await fs.writeFile(path.join(modules, 'extra/mok.ko'), await signed(unsigned(own), scratch))
    // Signed by the kernel's own build key: loads, so not named.
    await fs.writeFile(path.join(modules, 'updates/same-build.ko'), own)
    const {secureBoot} = await show()
    expect(secureBoot.modules).toMatchObject({status: 'refused', outOfTree: 3, refused: [
      {module: 'extra/mok.ko', signer: 'pxeroot test MOK'},
      {module: 'updates/dkms/unsigned.ko', signer: null},
    ]})

    const unsignedKernel = path.join(scratch, 'vmlinuz.unsigned')
    await fs.writeFile(unsignedKernel, signedKernel)
    await execa('sbattach', ['--remove', unsignedKernel])
    await fs.copyFile(unsignedKernel, publishedKernel)
    expect((await show()).secureBoot.kernel.status).toBe('unsigned')

    await fs.writeFile(g.root.resolve('/etc/pxeroot/nodes.yaml'), `nodes:\n  - {name: node01, ip: 10.77.0.101, image: ${g.ref.image}@${g.ref.revision}}\n`)
    const checks = (await runDoctor(testContext(g.rootPrefix))).filter((c) => c.check.startsWith('secure boot'))
    expect(checks.map((c) => [c.check, c.status])).toEqual([['secure boot sbcheck@1', 'warn'], ['secure boot sbcheck@1', 'warn']])
    expect(checks[0].message).toMatch(/^kernel unsigned: the kernel is not signed/)
    expect(checks[1].message).toMatch(/^modules: 2 of 3 out-of-tree module\(s\) will not load under Secure Boot .*extra\/mok\.ko \(signed by pxeroot test MOK\), updates\/dkms\/unsigned\.ko \(unsigned\)/)
    // A BIOS-only site has no Secure Boot to check.
    const site = g.root.resolve('/etc/pxeroot/pxeroot.yaml')
    await fs.appendFile(site, 'boot:\n  firmware: [bios]\n')
    expect((await runDoctor(testContext(g.rootPrefix))).filter((c) => c.check.startsWith('secure boot'))).toEqual([{check: 'secure boot', status: 'skip', message: 'boot.firmware has no uefi'}])
  })
})
