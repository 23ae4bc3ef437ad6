/**
 * Host keys are made in-process (src/clone/host-keys.ts), not by ssh-keygen: the files a clone
 * writes must be what OpenSSH itself reads. Checked with the real ssh-keygen (the public key it
 * derives from the private file, fingerprints, a signature made with the private key and verified
 * against the .pub) and the real sshd (`sshd -t` loads every HostKey, in a mount namespace whose
 * /run is private, so nothing of the host's sshd is touched).
 */
import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {identityOf, writeIdentity} from '../../src/clone/identity.js'
import {newHostKey} from '../../src/clone/host-keys.js'
import {parseSite} from '../../src/config/site-file.js'
import {hostFiles} from '../../src/system/files.js'
import {tmpRoot} from '../support/tmp-root.js'

function run(cmd: string, args: string[], input?: string): {code: number | null, out: string} {
  const r = spawnSync(cmd, args, {encoding: 'utf8', input, timeout: 30_000})
  return {code: r.status, out: `${r.stdout}${r.stderr}`}
}

/** `sshd -t` with only these host keys, /run/sshd (its privilege separation dir) in a private tmpfs. */
function sshdAccepts(dir: string, keys: string[]): {code: number | null, out: string} {
  const config = path.join(dir, 'sshd_config')
  spawnSync('sh', ['-c', `printf '%s\\n' "$@" > ${config}`, 'sh', ...keys.map((k) => `HostKey ${k}`), 'PidFile none', 'UsePAM no'])
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -t -f ${config}`])
}

describe('host keys written by a clone', () => {
  let dir = ''
  let cleanup = async () => {}
  beforeAll(async () => {
    ({dir, cleanup} = await tmpRoot('pxeroot-hostkeys-'))
    await fs.mkdir(path.join(dir, 'etc/ssh'), {recursive: true})
    // The image's own key, which the clone must replace.
    await fs.writeFile(path.join(dir, 'etc/ssh/ssh_host_ed25519_key'), 'IMAGE KEY\n', {mode: 0o600})
    const site = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes:\n  range: 192.168.0.200-192.168.0.210\nclone:\n  hostKeyTypes: [ed25519, ecdsa, rsa]\n')
    await writeIdentity({files: hostFiles}, dir, identityOf(site, 'node07', '0123456789abcdef0123456789abcdef', 'fresh'))
  })
  afterAll(() => cleanup())

  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    it(`${type}: ssh-keygen reads the private key, derives the .pub from it and signs with it; modes as ssh-keygen sets them`, async () => {
      const key = path.join(dir, `etc/ssh/ssh_host_${type}_key`)
      const pub = await fs.readFile(`${key}.pub`, 'utf8')
      expect(pub).toMatch(new RegExp(`^${type === 'ecdsa' ? 'ecdsa-sha2-nistp256' : `ssh-${type}`} [A-Za-z0-9+/]+=* root@node07\n$`))
      expect((await fs.stat(key)).mode & 0o777).toBe(0o600)
      expect((await fs.stat(`${key}.pub`)).mode & 0o777).toBe(0o644)

      const derived = run('ssh-keygen', ['-y', '-f', key])
      expect(derived.code, derived.out).toBe(0)
      expect(derived.out.trim().split(' ').slice(0, 2)).toEqual(pub.trim().split(' ').slice(0, 2))
      const [fpPrivate, fpPublic] = [run('ssh-keygen', ['-l', '-f', key]), run('ssh-keygen', ['-l', '-f', `${key}.pub`])]
      expect(fpPrivate.code, fpPrivate.out).toBe(0)
      expect(fpPrivate.out).toBe(fpPublic.out)
      expect(fpPrivate.out).toMatch(new RegExp(`^${type === 'rsa' ? 3072 : 256} SHA256:\\S+ root@node07 \\(${type.toUpperCase()}\\)`))

      // The private numbers, not only the public ones stored beside them, belong to the .pub.
      const message = path.join(dir, `message-${type}`)
      await fs.writeFile(message, 'pxeroot\n')
      const signed = run('ssh-keygen', ['-Y', 'sign', '-f', key, '-n', 'file', message])
      expect(signed.code, signed.out).toBe(0)
      await fs.writeFile(path.join(dir, `signers-${type}`), `root@node07 ${pub}`)
      const verified = run('ssh-keygen', ['-Y', 'verify', '-f', path.join(dir, `signers-${type}`), '-I', 'root@node07', '-n', 'file', '-s', `${message}.sig`], 'pxeroot\n')
      expect(verified.code, verified.out).toBe(0)
      expect(verified.out).toMatch(/Good "file" signature for root@node07/)
    })
  }

  it('sshd loads all three as host keys, and refuses a damaged one (the check can fail)', async () => {
    const keys = ['ed25519', 'ecdsa', 'rsa'].map((t) => path.join(dir, `etc/ssh/ssh_host_${t}_key`))
    const ok = sshdAccepts(dir, keys)
    expect(ok.code, ok.out).toBe(0)
    const damaged = path.join(dir, 'damaged_key')
    await fs.writeFile(damaged, (await fs.readFile(keys[0], 'utf8')).replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA'), {mode: 0o600})
    const refused = sshdAccepts(dir, [damaged])
    expect(refused.code).not.toBe(0)
    expect(refused.out).toMatch(/Unable to load host key/)
  })

  it('every key is new: two clones never share one, and the image\'s key is gone', async () => {
    const a = await newHostKey('ed25519', 'root@a')
    const b = await newHostKey('ed25519', 'root@a')
    expect(a.publicKey).not.toBe(b.publicKey)
    expect(await fs.readFile(path.join(dir, 'etc/ssh/ssh_host_ed25519_key'), 'utf8')).not.toContain('IMAGE KEY')
  })
})
