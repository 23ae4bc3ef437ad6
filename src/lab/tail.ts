import {promises as fs} from 'node:fs'

/** Reads what was appended to a file since the last call; a missing file reads as nothing yet. */
export class FileTail {
  private offset = 0

  constructor(readonly file: string) {}

  async read(): Promise<Buffer> {
    let handle
    try {
      handle = await fs.open(this.file, 'r')
    } catch {
      return Buffer.alloc(0)
    }
    try {
      const {size} = await handle.stat()
      if (size <= this.offset) return Buffer.alloc(0)
      const buffer = Buffer.alloc(size - this.offset)
      const {bytesRead} = await handle.read(buffer, 0, buffer.length, this.offset)
      this.offset += bytesRead
      return buffer.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  }
}

/** The last lines of a text, joined for a one-line error message. */
export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).map((l) => l.trim()).join(' | ')
}
