import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {initSite, parseServersFlag, type InitResult} from '../services/init.js'
import {EXIT_TABLE} from '../errors.js'

export default class Init extends BaseCommand {
  static summary = 'Describe the boot network once: writes /etc/pxeroot/pxeroot.yaml'
  static description = `Writes the site file with a comment on every setting. Nothing else is changed until "pxeroot apply".\n\n${EXIT_TABLE}`
  static examples = [
    '<%= config.bin %> init --server 192.168.0.10 --subnet 192.168.0.0/24 --router 192.168.0.10 --dns 8.8.8.8 --domain exemplo.com --nodes 192.168.0.200-192.168.0.210',
    '<%= config.bin %> init --server 192.168.0.10 --subnet 192.168.0.0/24 --nodes 192.168.0.200-192.168.0.210 --dhcp kea --install-packages',
    '<%= config.bin %> init --server 192.168.0.10 --subnet 192.168.0.0/24 --nodes 192.168.0.200-192.168.0.210 --dhcp dnsmasq --proxy',
    '<%= config.bin %> init --servers boot1=192.168.0.11,boot2=192.168.0.12 --subnet 192.168.0.0/24 --nodes 192.168.0.200-192.168.0.210 --dhcp kea',
  ]
  static flags = {
    server: Flags.string({description: "this server's address on the boot network (a site with one boot server)", exactlyOne: ['server', 'servers']}),
    servers: Flags.string({description: 'the boot servers of a site with several, NAME=ADDRESS,... in order (with Kea the first two are the DHCP failover pair)', exactlyOne: ['server', 'servers']}),
    'ha-mode': Flags.string({description: 'Kea DHCP failover between the first two --servers: hot-standby (one answers, the other takes over) or load-balancing (both answer)', options: ['hot-standby', 'load-balancing'], default: 'hot-standby'}),
    subnet: Flags.string({description: 'the boot network, e.g. 192.168.0.0/24', required: true}),
    nodes: Flags.string({description: 'address range for nodes, FIRST-LAST', required: true}),
    router: Flags.string({description: 'default gateway handed to nodes'}),
    dns: Flags.string({description: 'DNS server(s), comma-separated'}),
    domain: Flags.string({description: 'DNS domain handed to nodes'}),
    pool: Flags.string({description: 'dynamic pool for unknown machines, FIRST-LAST'}),
    nfs: Flags.string({description: 'NFS server', options: ['kernel', 'ganesha'], default: 'kernel'}),
    dhcp: Flags.string({description: 'DHCP server', options: ['isc', 'kea', 'dnsmasq'], default: 'isc'}),
    proxy: Flags.boolean({description: "proxy DHCP (with --dhcp dnsmasq): the network's own DHCP server keeps handing out addresses, pxeroot adds only the PXE answers"}),
    interface: Flags.string({description: "the boot network's interface Kea or dnsmasq serves (default: the one holding --server)"}),
    image: Flags.string({description: 'image nodes boot until cloned from a revision', default: 'debian-bookworm'}),
    transport: Flags.string({description: 'how nodes fetch kernel and initrd: tftp (pxelinux) or http (iPXE and lighttpd)', options: ['tftp', 'http'], default: 'tftp'}),
    force: Flags.boolean({description: 'replace an existing site file'}),
    'install-packages': Flags.boolean({description: 'apt-get install the servers the chosen backends need'}),
  }

  public async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const result = await initSite(this.makeContext(flags.root), {
      site: {
        server: flags.server,
        servers: flags.servers === undefined ? undefined : parseServersFlag(flags.servers),
        subnet: flags.subnet,
        router: flags.router,
        dns: flags.dns ? flags.dns.split(',').map((s) => s.trim()).filter(Boolean) : [],
        domain: flags.domain,
        nodes: {range: flags.nodes},
        pool: flags.pool,
        backends: {nfs: flags.nfs as 'kernel' | 'ganesha', dhcp: flags.dhcp as 'isc' | 'kea' | 'dnsmasq'},
        dhcp: {mode: flags.proxy ? 'proxy' : 'full', interface: flags.interface, ...(flags.servers === undefined ? {} : {ha: {mode: flags['ha-mode'] as 'hot-standby' | 'load-balancing'}})},
        boot: {image: flags.image, transport: flags.transport as 'tftp' | 'http'},
      },
      force: flags.force,
      installPackages: flags['install-packages'],
    })
    if (!this.jsonEnabled()) this.log(`Wrote ${result.siteFile}. Next: "pxeroot nodes add NAME" or "pxeroot nodes clone N", then "pxeroot apply".`)
    return result
  }
}
