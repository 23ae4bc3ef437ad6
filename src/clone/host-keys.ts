import {generateKeyPair, randomBytes, type JsonWebKey, type KeyObject} from 'node:crypto'
import {promisify} from 'node:util'

/**
 * SSH host keys made in-process, in the files ssh-keygen writes: the private key in OpenSSH's
 * own format ("openssh-key-v1", unencrypted, as `ssh-keygen -N ''` writes it) and the public key
 * as one `type base64 comment` line. A clone needs two or three per node; a child process per
 * key was most of what a btrfs clone cost (test/clone/host-keys.test.ts checks the files with
 * the real ssh-keygen and sshd).
 */
export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa'

export interface HostKeyFiles {
  /** The private key file's text (mode 0600). */
  privateKey: string
  /** The .pub file's text (mode 0644). */
  publicKey: string
}

const generate = promisify(generateKeyPair)

/** An SSH wire "string": uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const len = Buffer.alloc(4)
  len.writeUInt32BE(bytes.length)
  return Buffer.concat([len, bytes])
}

/** An SSH "mpint": a positive big-endian integer, no leading zeros, a zero byte first when the top bit is set. */
function mpint(bigEndian: Buffer): Buffer {
  let i = 0
  while (i < bigEndian.length && bigEndian[i] === 0) i++
  const trimmed = bigEndian.subarray(i)
  return sshString(trimmed.length > 0 && trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed)
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url')

/** The public key blob and the private fields of the openssh-key-v1 private section, by type. */
interface KeyParts {
  name: string
  publicBlob: Buffer
  privateFields: Buffer
}

function partsOf(type: HostKeyType, jwk: JsonWebKey): KeyParts {
  if (type === 'ed25519') {
    const pub = b64u(jwk.x)
    const name = 'ssh-ed25519'
    // OpenSSH keeps the 32-byte seed followed by the public key as the "private key".
    return {name, publicBlob: Buffer.concat([sshString(name), sshString(pub)]), privateFields: Buffer.concat([sshString(name), sshString(pub), sshString(Buffer.concat([b64u(jwk.d), pub]))])}
  }
  if (type === 'ecdsa') {
    const name = 'ecdsa-sha2-nistp256'
    const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)])
    const pub = Buffer.concat([sshString(name), sshString('nistp256'), sshString(point)])
    return {name, publicBlob: pub, privateFields: Buffer.concat([pub, mpint(b64u(jwk.d))])}
  }
  const name = 'ssh-rsa'
  const [n, e, d, iqmp, p, q] = [jwk.n, jwk.e, jwk.d, jwk.qi, jwk.p, jwk.q].map(b64u)
  return {
    name,
    publicBlob: Buffer.concat([sshString(name), mpint(e), mpint(n)]),
    privateFields: Buffer.concat([sshString(name), mpint(n), mpint(e), mpint(d), mpint(iqmp), mpint(p), mpint(q)]),
  }
}

/** The openssh-key-v1 container around one unencrypted key, PEM-armoured as ssh-keygen writes it. */
function openSshPrivateKey(parts: KeyParts, comment: string): string {
  const check = randomBytes(4)
  let section = Buffer.concat([check, check, parts.privateFields, sshString(comment)])
  // Padded with 1, 2, 3... to the cipher's block size ("none": 8).
  const pad = (8 - (section.length % 8)) % 8
  section = Buffer.concat([section, Buffer.from(Array.from({length: pad}, (_, i) => i + 1))])
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'), sshString('none'), sshString(''),
    uint32(1),
    sshString(parts.publicBlob),
    sshString(section),
  ]).toString('base64')
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

async function keyPair(type: HostKeyType): Promise<KeyObject> {
  // The sizes ssh-keygen is asked for elsewhere in pxeroot: ECDSA P-256, RSA 3072.
  if (type === 'ed25519') return (await generate('ed25519')).privateKey
  if (type === 'ecdsa') return (await generate('ec', {namedCurve: 'P-256'})).privateKey
  return (await generate('rsa', {modulusLength: 3072, publicExponent: 0x10001})).privateKey
}

/** A fresh host key of `type` with `comment` (e.g. root@node01), as ssh-keygen -N '' would write it. */
export async function newHostKey(type: HostKeyType, comment: string): Promise<HostKeyFiles> {
  const parts = partsOf(type, (await keyPair(type)).export({format: 'jwk'}))
  return {
    privateKey: openSshPrivateKey(parts, comment),
    publicKey: `${parts.name} ${parts.publicBlob.toString('base64')} ${comment}\n`,
  }
}
