import path from 'node:path'

import {parseKeaConfig} from '../../render/dhcp/kea.js'
import {type LabDaemon, type LabEnv, type LabAck} from '../types.js'
import {acksIn, generatedTexts, seedTime} from './lab-daemon.js'

/** Kea 2.2's memfile lease file (lease4 CSV, schema 2.0). */
const LEASES_HEADER = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context'
/** Kea's lease state "expired-reclaimed": the address is free, and Kea remembers whose it was. */
const EXPIRED_RECLAIMED = 2

/**
 * Lease state that makes Kea offer each MAC its address first: a lease of that MAC that expired
 * when the run began and was reclaimed, as one a machine held before. It binds nothing: the
 * address is free and Kea hands it to another machine when it has no other (and keeps it an
 * hour, hold-reclaimed-time, before forgetting the MAC). Looked up by MAC: match-client-id is false.
 */
export function keaSeededLeases(offers: readonly {mac: string, ip: string}[], subnetId: number, lifetime: number, now: number): string {
  return [LEASES_HEADER, ...offers.map((o) => `${o.ip},${o.mac},,${lifetime},${now},${subnetId},0,0,,${EXPIRED_RECLAIMED},`)].join('\n') + '\n'
}

/** Kea's lease log lines: DHCP4_LEASE_ALLOC for every address it acknowledges (a renewal too). */
export function keaAcks(log: string): LabAck[] {
  return acksIn(log, /DHCP4_LEASE_ALLOC \[hwtype=\d+ ([0-9a-f:]{17})\].*: lease (\d+\.\d+\.\d+\.\d+) has been allocated/g, 2, 1)
}

/**
 * Kea as the lab runs it, on the generated kea-dhcp4.conf. The whole delta (README, "The lab"):
 * the lab's interface (the generated socket retries kept), the lease file and control socket in
 * the run directory, no lease file cleanup (lfc) during the run, log to stdout; pid and lock files
 * go to the run directory through Kea's environment. The lease file is seeded with `offers`.
 */
export function keaLab(env: LabEnv, configPath: string): LabDaemon {
  const config = parseKeaConfig(generatedTexts(env, [configPath])[configPath])
  const file = (name: string) => path.join(env.runDir, name)
  const d = config.Dhcp4
  d['interfaces-config'] = {...d['interfaces-config'] as object, interfaces: [env.iface]}
  d['control-socket'] = {...d['control-socket'] as object, 'socket-name': file('kea4-ctrl-socket')}
  d['lease-database'] = {...d['lease-database'] as object, name: file('kea-leases4.csv'), 'lfc-interval': 0}
  d.loggers = [{name: 'kea-dhcp4', output_options: [{output: 'stdout'}], severity: 'INFO'}]
  const subnet = (d.subnet4 as {id?: number}[] | undefined)?.[0]
  const leases = keaSeededLeases(env.offers ?? [], subnet?.id ?? 1, Number(d['valid-lifetime'] ?? 86400), seedTime(env))
  return {
    files: [{name: 'kea-dhcp4.conf', content: JSON.stringify(config, null, 2) + '\n'}, {name: 'kea-leases4.csv', content: leases}],
    program: 'kea-dhcp4',
    args: ['-c', file('kea-dhcp4.conf')],
    env: {KEA_PIDFILE_DIR: env.runDir, KEA_LOCKFILE_DIR: env.runDir},
    log: file('kea-dhcp4.log'),
    ready: 'DHCP4_STARTED',
    logsItself: false,
    acks: keaAcks,
    leaseFile: file('kea-leases4.csv'),
  }
}
