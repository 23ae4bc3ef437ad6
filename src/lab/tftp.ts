import {type UdpDatagram} from './pcap.js'

/** One TFTP read as seen on the wire: which file, and whether all of it arrived. */
export interface TftpTransfer {
  file: string
  clientPort: number
  state: 'requested' | 'sending' | 'done' | 'error' | 'aborted'
  /** The server's error message (e.g. "File not found"). */
  error?: string
  /** When it was requested and when its last block arrived (done), ms since the epoch as captured. */
  began?: number
  ended?: number
}

const RRQ = 1
const DATA = 3
const ERROR = 5
const OACK = 6
const DEFAULT_BLKSIZE = 512

/** The NUL-terminated strings of a TFTP packet after its opcode (filename, mode, options). */
function strings(payload: Buffer, from: number): string[] {
  return payload.subarray(from).toString('latin1').split('\0')
}

/** Normalises a requested name the way tftpd resolves it against its root. */
export function tftpPath(name: string): string {
  return name.replace(/^(\.?\/)+/, '')
}

/**
 * Follows the TFTP reads of one client (a VM) from its captured datagrams: a request to port
 * 69, then OACK/DATA/ERROR from the server's transfer port back to the client's port. A read is
 * done when a DATA block shorter than the negotiated block size arrives.
 */
export class TftpTracker {
  readonly transfers: TftpTransfer[] = []
  private byPort = new Map<number, TftpTransfer & {blksize: number}>()

  constructor(private readonly server: string) {}

  add(d: UdpDatagram): void {
    if (d.payload.length < 2) return
    const op = d.payload.readUInt16BE(0)
    if (d.dstIp === this.server && d.dstPort === 69 && op === RRQ) {
      const [file, , ...options] = strings(d.payload, 2)
      const t: TftpTransfer & {blksize: number} = {file: tftpPath(file), clientPort: d.srcPort, state: 'requested', blksize: DEFAULT_BLKSIZE, began: d.at}
      const i = options.findIndex((o) => o.toLowerCase() === 'blksize')
      if (i >= 0 && Number(options[i + 1]) > 0) t.blksize = Number(options[i + 1])
      this.transfers.push(t)
      this.byPort.set(d.srcPort, t)
      return
    }
    if (d.srcIp === this.server) {
      const t = this.byPort.get(d.dstPort)
      if (!t || t.state === 'done' || t.state === 'error') return
      if (op === OACK) {
        const options = strings(d.payload, 2)
        const i = options.findIndex((o) => o.toLowerCase() === 'blksize')
        t.blksize = i >= 0 && Number(options[i + 1]) > 0 ? Number(options[i + 1]) : DEFAULT_BLKSIZE
      } else if (op === DATA) {
        t.state = d.length - 4 < t.blksize ? 'done' : 'sending'
        if (t.state === 'done') t.ended = d.at
      } else if (op === ERROR) {
        t.state = 'error'
        t.error = d.payload.length > 4 ? strings(d.payload, 4)[0] : 'error'
      }
      return
    }
    // The client gave up on a read itself (e.g. after learning the size from an OACK).
    if (d.dstIp === this.server && op === ERROR) {
      const t = this.byPort.get(d.srcPort)
      if (t && t.state !== 'done') t.state = 'aborted'
    }
  }

  /** The first complete read of a file, or the last attempt at it. */
  read(file: string): TftpTransfer | undefined {
    const want = tftpPath(file)
    const all = this.transfers.filter((t) => t.file === want)
    return all.find((t) => t.state === 'done') ?? all.at(-1)
  }
}
