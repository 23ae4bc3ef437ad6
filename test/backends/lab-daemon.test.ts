/** The lab's delta for Kea and dnsmasq (pure): only private paths, the interface, logging and seeded lease state change. */
import {describe, expect, it} from 'vitest'

import {DNSMASQ_PATHS, dnsmasqDhcp} from '../../src/backends/dhcp/dnsmasq.js'
import {KEA_PATHS, keaDhcp} from '../../src/backends/dhcp/kea.js'
import {type LabEnv} from '../../src/backends/types.js'
import {PreconditionError} from '../../src/errors.js'
import {renderDnsmasqHosts, renderDnsmasqMain} from '../../src/render/dhcp/dnsmasq.js'
import {parseKeaConfig, renderKeaConfig} from '../../src/render/dhcp/kea.js'
import {makeRoot} from '../../src/system/paths.js'
import {DNSMASQ_SITE, KEA_SITE, PROXY_SITE, seedModel, seedNodesAllByMac} from '../support/seed-model.js'

const RUN = '/tmp/lab-run'
const NOW = 1_795_800_000
const OFFER = {mac: '52:54:00:4d:00:66', ip: '192.168.0.205'}

function env(generated: Map<string, string>, offers: LabEnv['offers'] = []): LabEnv {
  return {generated, runDir: RUN, iface: 'br0', root: makeRoot('/'), server: '192.168.0.10', offers, now: NOW}
}

const fileOf = (files: {name: string, content: string}[], name: string) => files.find((f) => f.name === name)?.content

describe('the lab runs Kea on the generated config', () => {
  it('with only the interface, lease file, control socket and logging changed; pid and lock files through its environment', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE))
    const lab = keaDhcp.lab!(env(new Map([[KEA_PATHS.config, text]])))
    expect(lab.files.map((f) => f.name)).toEqual(['kea-dhcp4.conf', 'kea-leases4.csv'])
    const expected = parseKeaConfig(text)
    Object.assign(expected.Dhcp4, {
      // The generated socket retries stay: they are what lets Kea wait for an interface that comes up late.
      'interfaces-config': {interfaces: ['br0'], 'service-sockets-max-retries': 30, 'service-sockets-retry-wait-time': 2000},
      'control-socket': {'socket-type': 'unix', 'socket-name': `${RUN}/kea4-ctrl-socket`},
      'lease-database': {type: 'memfile', persist: true, name: `${RUN}/kea-leases4.csv`, 'lfc-interval': 0},
      loggers: [{name: 'kea-dhcp4', output_options: [{output: 'stdout'}], severity: 'INFO'}],
    })
    expect(JSON.parse(fileOf(lab.files, 'kea-dhcp4.conf')!)).toEqual(expected)
    expect([lab.program, ...lab.args]).toEqual(['kea-dhcp4', '-c', `${RUN}/kea-dhcp4.conf`])
    expect(lab.env).toEqual({KEA_PIDFILE_DIR: RUN, KEA_LOCKFILE_DIR: RUN})
    expect(lab).toMatchObject({log: `${RUN}/kea-dhcp4.log`, logsItself: false})
  })

  it('seeds an address-bound node\'s address as a reclaimed lease of its MAC (free, never a reservation)', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE))
    const lab = keaDhcp.lab!(env(new Map([[KEA_PATHS.config, text]]), [OFFER]))
    expect(fileOf(lab.files, 'kea-leases4.csv')).toBe([
      'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context',
      `192.168.0.205,52:54:00:4d:00:66,,86400,${NOW},1,0,0,,2,`,
      '',
    ].join('\n'))
    expect(fileOf(lab.files, 'kea-dhcp4.conf')).not.toContain('52:54:00:4d:00:66')
  })

  it('reads the leases Kea acknowledged from its log, the initramfs\'s renewal too', () => {
    const lab = keaDhcp.lab!(env(new Map([[KEA_PATHS.config, '{"Dhcp4": {}}']])))
    // Lines of a Kea 2.2 run (research, and this lab's runs).
    const log = [
      '2026-11-27 15:23:21.257 INFO  [kea-dhcp4.dhcp4/7443.1] DHCP4_STARTED Kea DHCPv4 server version 2.2.0 started',
      '2026-11-27 15:23:27.494 INFO  [kea-dhcp4.leases/7443.1] DHCP4_LEASE_ADVERT [hwtype=1 52:54:00:00:00:a1], cid=[01:52:54:00:00:00:a1], tid=0x2157dd7f: lease 192.168.0.202 will be advertised',
      '2026-11-27 15:23:29.528 INFO  [kea-dhcp4.leases/7443.1] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:00:00:a1], cid=[01:52:54:00:00:00:a1], tid=0x2157dd7f: lease 192.168.0.202 has been allocated for 600 seconds',
      '2026-11-27 16:57:02.745 INFO  [kea-dhcp4.leases/22661.139694719672832] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:00:00:a1], cid=[no info], tid=0xc426f7f2: lease 192.168.0.202 has been allocated for 86400 seconds',
    ].join('\n')
    expect(log).toContain(lab.ready)
    expect(lab.acks!(log)).toEqual([{ip: '192.168.0.202', mac: '52:54:00:00:00:a1'}, {ip: '192.168.0.202', mac: '52:54:00:00:00:a1'}])
  })

  it('refuses to run before apply wrote the configuration', () => {
    expect(() => keaDhcp.lab!(env(new Map()))).toThrow(PreconditionError)
  })
})

describe('the lab runs dnsmasq on the generated files', () => {
  const files = async (extra: string, nodes?: string) => {
    const model = await seedModel(extra, nodes)
    return new Map([[DNSMASQ_PATHS.main, renderDnsmasqMain(model, DNSMASQ_PATHS.hosts)], [DNSMASQ_PATHS.hosts, renderDnsmasqHosts(model)]])
  }

  for (const [mode, extra] of [['full', DNSMASQ_SITE], ['proxy', PROXY_SITE]] as const) {
    it(`${mode}: the hosts file as it is, and only four lines of the main file changed`, async () => {
      const generated = await files(extra, mode === 'proxy' ? await seedNodesAllByMac() : undefined)
      const lab = dnsmasqDhcp.lab!(env(generated))
      expect(fileOf(lab.files, 'dnsmasq-hosts')).toBe(generated.get(DNSMASQ_PATHS.hosts))
      const before = generated.get(DNSMASQ_PATHS.main)!.split('\n')
      const changed = fileOf(lab.files, 'dnsmasq.conf')!.split('\n').map((line, i) => [before[i], line]).filter(([a, b]) => a !== b)
      expect(changed).toEqual([
        ['interface=eth0', 'interface=br0'],
        ['dhcp-leasefile=/var/lib/misc/pxeroot-dnsmasq.leases', `dhcp-leasefile=${RUN}/dnsmasq.leases`],
        ['pid-file=/run/pxeroot-dnsmasq.pid', `pid-file=${RUN}/dnsmasq.pid`],
        ['dhcp-hostsfile=/etc/pxeroot/dnsmasq-hosts', `dhcp-hostsfile=${RUN}/dnsmasq-hosts`],
      ])
      expect([lab.program, ...lab.args]).toEqual(['dnsmasq', '-k', '-C', `${RUN}/dnsmasq.conf`, '--log-facility=-'])
      expect(lab.ready).toBe('DHCP, sockets bound exclusively to interface br0')
    })
  }

  it('full: seeds a running lease of the MAC, as long as the generated lease time (dnsmasq forgets an ended one)', async () => {
    const lab = dnsmasqDhcp.lab!(env(await files(DNSMASQ_SITE), [OFFER]))
    expect(fileOf(lab.files, 'dnsmasq.leases')).toBe(`${NOW + 86400} 52:54:00:4d:00:66 192.168.0.205 * *\n`)
    expect(fileOf(lab.files, 'dnsmasq-hosts')).not.toContain('52:54:00:4d:00:66')
  })

  it('reads leases from its DHCPACK lines; in proxy mode it hands out none, so there are none to read', async () => {
    const log = [
      'dnsmasq-dhcp[29671]: DHCP, sockets bound exclusively to interface br0',
      'dnsmasq-dhcp[29671]: 1661426520 DHCPOFFER(br0) 192.168.0.202 52:54:00:00:00:a1 ',
      'dnsmasq-dhcp[29671]: 1661426520 DHCPACK(br0) 192.168.0.202 52:54:00:00:00:A1 node01',
      'dnsmasq-dhcp[419]: 1017717246 DHCPACK(br0) 10.77.0.133 52:54:00:00:00:bb ',
      'dnsmasq-dhcp[29671]: 128492172 PXE(br0) 52:54:00:ab:cd:ef proxy',
    ].join('\n')
    expect(dnsmasqDhcp.lab!(env(await files(DNSMASQ_SITE))).acks!(log)).toEqual([{ip: '192.168.0.202', mac: '52:54:00:00:00:a1'}, {ip: '10.77.0.133', mac: '52:54:00:00:00:bb'}])
    expect(dnsmasqDhcp.lab!(env(await files(PROXY_SITE, await seedNodesAllByMac()))).acks).toBeUndefined()
  })
})
