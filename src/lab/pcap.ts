/**
 * A reader for the packet capture qemu's filter-dump writes of each VM's NIC (classic pcap,
 * Ethernet). Only what the lab needs: the IPv4/UDP datagrams, with their real lengths even
 * when the capture keeps just the first bytes of each frame.
 */
export interface UdpDatagram {
  srcIp: string
  dstIp: string
  srcPort: number
  dstPort: number
  /** Payload length as sent (from the UDP header), not what was captured. */
  length: number
  /** The captured part of the payload. */
  payload: Buffer
  /** When it was captured, ms since the epoch (set by PcapReader). */
  at?: number
}

const GLOBAL_HEADER = 24
const RECORD_HEADER = 16
const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_VLAN = 0x8100
const PROTO_UDP = 17

const ip = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`

/** Decodes one Ethernet frame; undefined for anything but a first-fragment IPv4 UDP datagram. */
export function udpOfFrame(frame: Buffer): UdpDatagram | undefined {
  let at = 12
  if (frame.length < at + 2) return undefined
  let type = frame.readUInt16BE(at)
  if (type === ETHERTYPE_VLAN && frame.length >= at + 6) {
    at += 4
    type = frame.readUInt16BE(at)
  }
  at += 2
  if (type !== ETHERTYPE_IPV4 || frame.length < at + 20) return undefined
  const ihl = (frame[at] & 0x0f) * 4
  const fragmentOffset = frame.readUInt16BE(at + 6) & 0x1fff
  if (frame[at + 9] !== PROTO_UDP || fragmentOffset !== 0 || frame.length < at + ihl + 8) return undefined
  const u = at + ihl
  const udpLength = frame.readUInt16BE(u + 4)
  return {
    srcIp: ip(frame, at + 12),
    dstIp: ip(frame, at + 16),
    srcPort: frame.readUInt16BE(u),
    dstPort: frame.readUInt16BE(u + 2),
    length: Math.max(0, udpLength - 8),
    payload: frame.subarray(u + 8, Math.min(frame.length, u + udpLength)),
  }
}

/** Incremental: feed the bytes appended to the capture file since the last call. */
export class PcapReader {
  private pending: Buffer = Buffer.alloc(0)
  private headerSeen = false
  private little = true

  push(chunk: Buffer): UdpDatagram[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const out: UdpDatagram[] = []
    let at = 0
    if (!this.headerSeen) {
      if (this.pending.length < GLOBAL_HEADER) return out
      const magic = this.pending.readUInt32LE(0)
      if (magic === 0xa1b2c3d4) this.little = true
      else if (magic === 0xd4c3b2a1) this.little = false
      else throw new Error('not a pcap capture (bad magic number)')
      this.headerSeen = true
      at = GLOBAL_HEADER
    }
    const u32 = (o: number) => (this.little ? this.pending.readUInt32LE(o) : this.pending.readUInt32BE(o))
    while (this.pending.length - at >= RECORD_HEADER) {
      const captured = u32(at + 8)
      if (this.pending.length - at - RECORD_HEADER < captured) break
      const frame = this.pending.subarray(at + RECORD_HEADER, at + RECORD_HEADER + captured)
      const datagram = udpOfFrame(frame)
      // Copy: the pending buffer is replaced on the next push.
      if (datagram) out.push({...datagram, payload: Buffer.from(datagram.payload), at: u32(at) * 1000 + Math.floor(u32(at + 4) / 1000)})
      at += RECORD_HEADER + captured
    }
    this.pending = this.pending.subarray(at)
    return out
  }
}
