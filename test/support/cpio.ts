/** A newc cpio archive of the given members (directories for their parents first), as mkinitramfs writes one; for tests. */
export function newcArchive(members: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4)
  const entry = (name: string, mode: number, data: Buffer) => {
    const nameBytes = Buffer.from(`${name}\0`)
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0]
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0').toUpperCase()).join('')}`, 'latin1')
    parts.push(header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length))
  }
  const dirs = new Set<string>()
  for (const [name, data] of Object.entries(members)) {
    const segments = name.split('/').slice(0, -1)
    for (let i = 1; i <= segments.length; i++) {
      const dir = segments.slice(0, i).join('/')
      if (!dirs.has(dir)) entry(dir, 0o40755, Buffer.alloc(0))
      dirs.add(dir)
    }
    entry(name, 0o100644, Buffer.from(data))
  }
  entry('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(parts)
}
