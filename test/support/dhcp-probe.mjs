// A DHCP client for tests, run with node inside a test's client network namespace:
//   node dhcp-probe.mjs --mac 52:54:00:00:00:01 [--arch 0] [--client-id [HEX]] [--user-class iPXE] [--ipconfig] [--request]
//   node dhcp-probe.mjs --mac ... --every 100 --timeout 60000   (bench/failover.ts: a DISCOVER every 100 ms,
//                                                               one line {at, server, yiaddr} per OFFER)
// It broadcasts a DISCOVER as PXE firmware does (vendor class PXEClient, option 93) or, with
// --ipconfig, as the initramfs's klibc ipconfig does (no option 93, no client identifier), and
// with --request completes the exchange (REQUEST to the offering server, then its ACK).
// Prints one JSON line: {offer, ack} with each reply's yiaddr, siaddr, file and options (hex).
import dgram from 'node:dgram'
import {parseArgs} from 'node:util'

const {values: o} = parseArgs({options: {
  mac: {type: 'string'}, arch: {type: 'string', default: '0'}, 'client-id': {type: 'string'}, 'user-class': {type: 'string'},
  ipconfig: {type: 'boolean'}, request: {type: 'boolean'}, timeout: {type: 'string', default: '8000'}, every: {type: 'string'},
}})
const hw = Buffer.from(o.mac.split(':').map((x) => Number.parseInt(x, 16)))
let xid = Math.floor(Math.random() * 2 ** 32)
const opt = (code, data) => Buffer.concat([Buffer.from([code, data.length]), data])

function packet(type, extra = []) {
  const head = Buffer.alloc(240)
  head.writeUInt8(1, 0) // BOOTREQUEST
  head.writeUInt8(1, 1) // Ethernet
  head.writeUInt8(6, 2)
  head.writeUInt32BE(xid, 4)
  head.writeUInt16BE(0x8000, 10) // broadcast replies: the client has no address yet
  hw.copy(head, 28)
  head.writeUInt32BE(0x63825363, 236)
  const arch = Buffer.alloc(2)
  arch.writeUInt16BE(Number(o.arch))
  const options = o.ipconfig
    ? [opt(60, Buffer.from('Linux ipconfig')), opt(55, Buffer.from([1, 3, 6, 12, 15, 17]))]
    : [opt(93, arch), opt(94, Buffer.from([1, 2, 1])), opt(60, Buffer.from(`PXEClient:Arch:${o.arch.padStart(5, '0')}:UNDI:002001`)),
      opt(55, Buffer.from([1, 3, 6, 12, 43, 60, 66, 67]))]
  // A client identifier: "01"+MAC as iPXE and pxelinux send it, or the given hex (another boot stage's).
  if (o['client-id'] !== undefined) options.push(opt(61, o['client-id'] === 'mac' ? Buffer.concat([Buffer.from([1]), hw]) : Buffer.from(o['client-id'], 'hex')))
  if (o['user-class']) options.push(opt(77, Buffer.from(o['user-class'])))
  return Buffer.concat([head, opt(53, Buffer.from([type])), ...options, ...extra, Buffer.from([255])])
}

function parse(data) {
  const ip = (at) => [...data.subarray(at, at + 4)].join('.')
  const options = {}
  for (let i = 240; i < data.length && data[i] !== 255;) {
    if (data[i] === 0) {
      i++
      continue
    }
    options[data[i]] = data.subarray(i + 2, i + 2 + data[i + 1]).toString('hex')
    i += 2 + data[i + 1]
  }
  return {yiaddr: ip(16), siaddr: ip(20), file: data.subarray(108, 236).toString('latin1').replace(/\0.*$/s, ''), type: Number.parseInt(options[53] ?? '0', 16), options}
}

const socket = dgram.createSocket({type: 'udp4', reuseAddr: true})
const result = {offer: null, ack: null}
const done = () => {
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}
setTimeout(done, Number(o.timeout))
const ip4 = (hex) => (hex ? Buffer.from(hex, 'hex').join('.') : null)
socket.on('message', (data) => {
  if (o.every && data[0] === 2) {
    // Repeating: every OFFER to any of our DISCOVERs, with who sent it and when it arrived.
    const reply = parse(data)
    if (reply.type === 2) process.stdout.write(JSON.stringify({at: Date.now(), server: ip4(reply.options[54]), yiaddr: reply.yiaddr}) + '\n')
    return
  }
  if (data.readUInt32BE(4) !== xid || data[0] !== 2) return
  const reply = parse(data)
  if (reply.type === 2 && !result.offer) {
    result.offer = reply
    if (!o.request) return done()
    const server = Buffer.from(reply.options[54] ?? '', 'hex')
    const requested = Buffer.from(reply.yiaddr.split('.').map(Number))
    socket.send(packet(3, [opt(50, requested), opt(54, server)]), 67, '255.255.255.255')
  } else if (reply.type === 5 || reply.type === 6) {
    result.ack = reply
    done()
  }
})
socket.bind(68, () => {
  socket.setBroadcast(true)
  socket.send(packet(1), 67, '255.255.255.255')
  if (o.every) {
    setInterval(() => {
      xid = (xid + 1) >>> 0
      socket.send(packet(1), 67, '255.255.255.255')
    }, Number(o.every))
  }
})
