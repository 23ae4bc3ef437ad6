/** The lab's delta for each DHCP daemon (pure): only private paths, the interface and logging change. */
import {describe, expect, it} from 'vitest'

import {DNSMASQ_PATHS, labDaemonDnsmasq} from '../../src/backends/dhcp/dnsmasq.js'
import {KEA_PATHS, labDaemonKea} from '../../src/backends/dhcp/kea.js'
import {renderDnsmasqHosts, renderDnsmasqMain} from '../../src/render/dhcp/dnsmasq.js'
import {parseKeaConfig, renderKeaConfig} from '../../src/render/dhcp/kea.js'
import {DNSMASQ_SITE, KEA_SITE, PROXY_SITE, seedModel, seedNodesAllByMac} from '../support/seed-model.js'

const RUN = '/tmp/lab-run'

describe('the lab runs Kea on the generated config', () => {
  it('with only the interface, lease file, control socket and logging changed', async () => {
    const text = renderKeaConfig(await seedModel(KEA_SITE))
    const lab = labDaemonKea({files: new Map([[KEA_PATHS.config, text]]), interface: 'br0', runDir: RUN})
    expect(lab.files.map((f) => f.path)).toEqual([`${RUN}/kea-dhcp4.conf`])
    const expected = parseKeaConfig(text)
    Object.assign(expected.Dhcp4, {
      'interfaces-config': {...expected.Dhcp4['interfaces-config'] as object, interfaces: ['br0']},
      'control-socket': {'socket-type': 'unix', 'socket-name': `${RUN}/kea4-ctrl-socket`},
      'lease-database': {type: 'memfile', persist: true, name: `${RUN}/kea-leases4.csv`, 'lfc-interval': 0},
      loggers: [{name: 'kea-dhcp4', output_options: [{output: 'stdout'}], severity: 'INFO'}],
    })
    expect(JSON.parse(lab.files[0].content)).toEqual(expected)
    expect([lab.command, ...lab.args]).toEqual(['kea-dhcp4', '-c', `${RUN}/kea-dhcp4.conf`])
    expect(lab.env).toEqual({KEA_PIDFILE_DIR: RUN, KEA_LOCKFILE_DIR: RUN})
  })

  it('reads the leases and the serving line from Kea\'s log', () => {
    const lab = labDaemonKea({files: new Map([[KEA_PATHS.config, '{"Dhcp4": {}}']]), interface: 'br0', runDir: RUN})
    const log = [
      '2026-11-27 15:23:21.257 INFO  [kea-dhcp4.dhcpsrv/7443.1] DHCPSRV_CFGMGR_ADD_IFACE listening on interface br0',
      '2026-11-27 15:23:27.494 INFO  [kea-dhcp4.leases/7443.1] DHCP4_LEASE_ADVERT [hwtype=1 52:54:00:00:00:a1], cid=[01:52:54:00:00:00:a1], tid=0x2157dd7f: lease 192.168.0.202 will be advertised',
      '2026-11-27 15:23:29.528 INFO  [kea-dhcp4.leases/7443.1] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:00:00:a1], cid=[01:52:54:00:00:00:a1], tid=0x2157dd7f: lease 192.168.0.202 has been allocated for 600 seconds',
    ].join('\n')
    expect(lab.serving.test(log)).toBe(true)
    expect(lab.leases(log)).toEqual([{ip: '192.168.0.202', mac: '52:54:00:00:00:a1'}])
  })
})

describe('the lab runs dnsmasq on the generated files', () => {
  for (const [mode, extra] of [['full', DNSMASQ_SITE], ['proxy', PROXY_SITE]] as const) {
    it(`${mode}: the hosts file as it is, and only four lines of the main file changed`, async () => {
      const model = await seedModel(extra, mode === 'proxy' ? await seedNodesAllByMac() : undefined)
      const main = renderDnsmasqMain(model, DNSMASQ_PATHS.hosts)
      const hosts = renderDnsmasqHosts(model)
      const lab = labDaemonDnsmasq({files: new Map([[DNSMASQ_PATHS.main, main], [DNSMASQ_PATHS.hosts, hosts]]), interface: 'br0', runDir: RUN})
      const [labMain, labHosts] = lab.files
      expect(labHosts).toEqual({path: `${RUN}/dnsmasq-hosts`, content: hosts})
      const before = main.split('\n')
      const changed = labMain.content.split('\n').map((line, i) => [before[i], line]).filter(([a, b]) => a !== b)
      expect(changed).toEqual([
        ['interface=eth0', 'interface=br0'],
        ['dhcp-leasefile=/var/lib/misc/pxeroot-dnsmasq.leases', `dhcp-leasefile=${RUN}/dnsmasq.leases`],
        ['pid-file=/run/pxeroot-dnsmasq.pid', `pid-file=${RUN}/dnsmasq.pid`],
        ['dhcp-hostsfile=/etc/pxeroot/dnsmasq-hosts', `dhcp-hostsfile=${RUN}/dnsmasq-hosts`],
      ])
      expect([lab.command, ...lab.args]).toEqual(['dnsmasq', '-k', '-C', `${RUN}/dnsmasq.conf`, '--log-facility=-'])
    })
  }

  it('reads leases (full) and PXE answers (proxy) from dnsmasq\'s log', async () => {
    const files = async (extra: string, nodes?: string) => {
      const model = await seedModel(extra, nodes)
      return new Map([[DNSMASQ_PATHS.main, renderDnsmasqMain(model, DNSMASQ_PATHS.hosts)], [DNSMASQ_PATHS.hosts, renderDnsmasqHosts(model)]])
    }
    const full = labDaemonDnsmasq({files: await files(DNSMASQ_SITE), interface: 'br0', runDir: RUN})
    const log = [
      'dnsmasq-dhcp[29671]: DHCP, sockets bound exclusively to interface br0',
      'dnsmasq-dhcp[29671]: 1661426520 DHCPOFFER(br0) 192.168.0.202 52:54:00:00:00:a1 ',
      'dnsmasq-dhcp[29671]: 1661426520 DHCPACK(br0) 192.168.0.202 52:54:00:00:00:A1 node01',
      'dnsmasq-dhcp[29671]: 128492172 PXE(br0) 52:54:00:ab:cd:ef proxy',
    ].join('\n')
    expect(full.serving.test(log)).toBe(true)
    expect(full.leases(log)).toEqual([{ip: '192.168.0.202', mac: '52:54:00:00:00:a1'}])
    const proxy = labDaemonDnsmasq({files: await files(PROXY_SITE, await seedNodesAllByMac()), interface: 'br0', runDir: RUN})
    expect(proxy.leases(log)).toEqual([{ip: '', mac: '52:54:00:ab:cd:ef'}])
  })
})
