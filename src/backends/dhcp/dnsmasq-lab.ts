import path from 'node:path'

import {type LabDaemon, type LabEnv, type LabAck} from '../types.js'
import {acksIn, generatedTexts, seedTime} from './lab-daemon.js'

/**
 * Lease state that makes dnsmasq offer each MAC its address first: a lease of that MAC still
 * running when the run begins, as a node that reboots has (dnsmasq drops an expired lease when
 * it reads the file, so a lease that already ended would be forgotten). Not a host entry: it
 * ends after the generated lease time like any other, and the node renews it as in the field.
 */
export function dnsmasqSeededLeases(offers: readonly {mac: string, ip: string}[], lifetime: number, now: number): string {
  return offers.map((o) => `${now + lifetime} ${o.mac} ${o.ip} * *\n`).join('')
}

/** dnsmasq's DHCPACK lines: which address went to which MAC. */
export function dnsmasqAcks(log: string): LabAck[] {
  return acksIn(log, /DHCPACK\([^)]*\) (\d+\.\d+\.\d+\.\d+) ([0-9a-f:]{17})/gi, 1, 2)
}

/**
 * dnsmasq as the lab runs it, on the generated main and hosts files. The whole delta (README,
 * "The lab"): the lab's interface, the lease and pid files in the run directory, and its copy of
 * the hosts file there (dnsmasq reads it after dropping root, so it must be where that user can
 * read it); it logs to stderr. In full mode the lease file is seeded with `offers`; in proxy mode
 * it hands out no address, so its log acknowledges none: the network's server's log does.
 */
export function dnsmasqLab(env: LabEnv, paths: {main: string, hosts: string}): LabDaemon {
  const texts = generatedTexts(env, [paths.main, paths.hosts])
  const main = texts[paths.main]
  const file = (name: string) => path.join(env.runDir, name)
  const delta: Record<string, string> = {
    'interface': env.iface,
    'dhcp-leasefile': file('dnsmasq.leases'),
    'pid-file': file('dnsmasq.pid'),
    'dhcp-hostsfile': file('dnsmasq-hosts'),
  }
  const labMain = main.split('\n').map((line) => {
    const key = /^([a-z-]+)=/.exec(line)?.[1]
    return key !== undefined && key in delta ? `${key}=${delta[key]}` : line
  }).join('\n')
  const proxy = /^dhcp-range=.*,proxy,/m.test(main)
  const lifetime = Number(/^dhcp-range=[^,\n]+,[^,\n]+,[^,\n]+,(\d+)$/m.exec(main)?.[1] ?? 3600)
  return {
    files: [
      {name: 'dnsmasq.conf', content: labMain},
      {name: 'dnsmasq-hosts', content: texts[paths.hosts]},
      {name: 'dnsmasq.leases', content: proxy ? '' : dnsmasqSeededLeases(env.offers ?? [], lifetime, seedTime(env))},
    ],
    program: 'dnsmasq',
    args: ['-k', '-C', file('dnsmasq.conf'), '--log-facility=-'],
    log: file('dnsmasq.log'),
    ready: `DHCP, sockets bound exclusively to interface ${env.iface}`,
    logsItself: false,
    ...(proxy ? {} : {acks: dnsmasqAcks, leaseFile: file('dnsmasq.leases')}),
  }
}
