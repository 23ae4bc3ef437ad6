/** Captures as qemu's filter-dump writes them, built from TFTP packets, for the lab's unit tests. */

/** An Ethernet/IPv4/UDP frame as qemu's filter-dump would capture it (maxlen cuts the payload, not the lengths). */
export function udpFrame(src: string, dst: string, sport: number, dport: number, payload: Buffer, maxlen = 192): Buffer {
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(20 + 8 + payload.length, 2)
  ip[8] = 64
  ip[9] = 17
  src.split('.').forEach((b, i) => (ip[12 + i] = Number(b)))
  dst.split('.').forEach((b, i) => (ip[16 + i] = Number(b)))
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(sport, 0)
  udp.writeUInt16BE(dport, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  const eth = Buffer.concat([Buffer.alloc(12, 0x52), Buffer.from([0x08, 0x00])])
  return Buffer.concat([eth, ip, udp, payload]).subarray(0, maxlen)
}

/** A classic pcap of the frames; record i is stamped `at(i)` ms after the epoch (default: i seconds). */
export function pcap(frames: Buffer[], at: (i: number) => number = (i) => i * 1000): Buffer {
  const header = Buffer.alloc(24)
  header.writeUInt32LE(0xa1b2c3d4, 0)
  header.writeUInt16LE(2, 4)
  header.writeUInt16LE(4, 6)
  header.writeUInt32LE(192, 16)
  header.writeUInt32LE(1, 20)
  return Buffer.concat([header, ...frames.flatMap((f, i) => {
    const rec = Buffer.alloc(16)
    rec.writeUInt32LE(Math.floor(at(i) / 1000), 0)
    rec.writeUInt32LE((at(i) % 1000) * 1000, 4)
    rec.writeUInt32LE(f.length, 8)
    rec.writeUInt32LE(f.length, 12)
    return [rec, f]
  })])
}

export const tftp = {
  rrq: (file: string, ...options: string[]) => Buffer.concat([Buffer.from([0, 1]), Buffer.from([file, 'octet', ...options].join('\0') + '\0')]),
  oack: (...options: string[]) => Buffer.concat([Buffer.from([0, 6]), Buffer.from(options.join('\0') + '\0')]),
  data: (block: number, size: number) => Buffer.concat([Buffer.from([0, 3, block >> 8, block & 255]), Buffer.alloc(size)]),
  error: (message: string) => Buffer.concat([Buffer.from([0, 5, 0, 1]), Buffer.from(message + '\0')]),
}

