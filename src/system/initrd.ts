/**
 * What an initrd holds, read as the kernel reads it: one or more cpio archives ("newc", magic
 * 070701 or 070702) one after the other, the uncompressed ones first (early microcode), the main
 * one compressed (its decompressor runs here).
 */
import {spawn} from 'node:child_process'
import {promises as fs} from 'node:fs'
import {gunzipSync} from 'node:zlib'

/** One member of an initrd's archives. */
export interface CpioMember {
  name: string
  /** The member's bytes, for the members asked for. */
  data?: Buffer
}

const HEADER = 110
const MAGIC = new Set(['070701', '070702'])

const pad4 = (n: number) => (n + 3) & ~3

/**
 * The members of the cpio archives at the start of `buf`, and where the archives end (the start
 * of what follows them: a compressed archive, or nothing). `wanted` picks the members whose bytes
 * are kept.
 */
export function cpioMembers(buf: Buffer, wanted: (name: string) => boolean = () => false): {members: CpioMember[], end: number} {
  const members: CpioMember[] = []
  let at = 0
  for (;;) {
    // Archives may be padded with zeros between them.
    while (at < buf.length && buf[at] === 0) at++
    if (at + HEADER > buf.length || !MAGIC.has(buf.toString('latin1', at, at + 6))) return {members, end: at}
    const field = (i: number) => Number.parseInt(buf.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16)
    const size = field(6)
    const nameSize = field(11)
    const name = buf.toString('utf8', at + HEADER, at + HEADER + nameSize - 1)
    const dataAt = pad4(at + HEADER + nameSize)
    at = pad4(dataAt + size)
    if (name === 'TRAILER!!!') continue
    members.push(wanted(name) ? {name, data: buf.subarray(dataAt, dataAt + size)} : {name})
  }
}

/** The compression of what starts at `buf[at]`, by its magic, as mkinitramfs writes them. */
export function compressionAt(buf: Buffer, at: number): 'zstd' | 'gzip' | 'xz' | 'lz4' | 'lzma' | 'bzip2' | undefined {
  const b = buf.subarray(at, at + 6)
  if (b.length < 4) return undefined
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd'
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip'
  if (b.toString('latin1', 0, 6) === '\xfd7zXZ\x00') return 'xz'
  if (b[0] === 0x02 && b[1] === 0x21 && b[2] === 0x4c && b[3] === 0x18) return 'lz4'
  if (b[0] === 0x04 && b[1] === 0x22 && b[2] === 0x4d && b[3] === 0x18) return 'lz4'
  if (b[0] === 0x5d && b[1] === 0x00 && b[2] === 0x00) return 'lzma'
  if (b.toString('latin1', 0, 3) === 'BZh') return 'bzip2'
  return undefined
}

const DECOMPRESSORS: Record<string, [string, string[]]> = {
  zstd: ['zstd', ['-dcq']],
  xz: ['xz', ['-dc']],
  lzma: ['xz', ['-dc', '--format=lzma']],
  lz4: ['lz4', ['-dc']],
  bzip2: ['bzip2', ['-dc']],
}

const DECOMPRESS_MS = 60_000

/** Bytes through a decompressor's stdin and stdout, bounded in time. */
async function decompress(program: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn(program, args, {stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), DECOMPRESS_MS)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString()
    })
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      // A decompressor that stops at the end of its stream complains of trailing padding: what it gave is the archive.
      if (out.length > 0 || code === 0) resolve(Buffer.concat(out))
      else reject(new Error(`${program} ${args.join(' ')} failed: ${err.trim() || `exit ${code}`}`))
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(input)
  })
}

/**
 * The members of an initrd, as the kernel unpacks it: its uncompressed archives, then the
 * compressed one after them (zstd, gzip, xz, lz4, lzma, bzip2). `wanted` picks the members whose
 * bytes are kept.
 */
export async function initrdMembers(file: string, wanted?: (name: string) => boolean): Promise<CpioMember[]> {
  const buf = await fs.readFile(file)
  const {members, end} = cpioMembers(buf, wanted)
  const kind = compressionAt(buf, end)
  if (!kind) return members
  const rest = buf.subarray(end)
  const archive = kind === 'gzip' ? gunzipSync(rest) : await decompress(...DECOMPRESSORS[kind], rest)
  return [...members, ...cpioMembers(archive, wanted).members]
}
