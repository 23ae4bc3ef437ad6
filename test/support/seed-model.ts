import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type BootModel, type DhcpBoot} from '../../src/boot/model.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {FIXTURES} from './tmp-root.js'

/** The seed's site file with extra YAML lines appended (backends, dhcp...). */
export async function seedSiteText(extra = ''): Promise<string> {
  return (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + extra
}

/** The seed's inventory with every node bound by MAC (node01 → 52:54:00:00:00:01...), as proxy mode needs. */
export async function seedNodesAllByMac(): Promise<string> {
  const text = await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8')
  return text.replaceAll(/ {2}- name: node0([12])\n {4}ip: (\S+)\n/g, '  - name: node0$1\n    ip: $2\n    mac: 52:54:00:00:00:0$1\n')
}

/** The boot model of the seed network with the given site additions; UEFI is on, as the seed's goldens show both branches. */
export async function seedModel(extra = '', nodesText?: string, dhcpBoot: DhcpBoot = {bios: 'pxelinux.0', uefi: 'bootx64.efi'}): Promise<BootModel> {
  const site = parseSite(await seedSiteText(extra))
  const inventory = parseInventory(nodesText ?? await fs.readFile(path.join(FIXTURES, 'seed-nodes.yaml'), 'utf8'))
  return {site, nodes: bootNodesFor(site, inventory, {image: 'debian-bookworm', revision: 2}), dhcpBoot}
}

export const KEA_SITE = 'backends: {dhcp: kea}\ndhcp: {interface: eth0}\n'
export const DNSMASQ_SITE = 'backends: {dhcp: dnsmasq}\ndhcp: {interface: eth0}\n'
export const PROXY_SITE = 'backends: {dhcp: dnsmasq}\ndhcp: {mode: proxy, interface: eth0}\n'

/** The seed site with two boot servers instead of one: boot1 at the seed's server address, boot2 beside it. */
export async function seedServersSiteText(extra = '', servers = '  - {name: boot1, address: 192.168.0.10}\n  - {name: boot2, address: 192.168.0.11}\n'): Promise<string> {
  return (await seedSiteText(extra)).replace('server: 192.168.0.10\n', `servers:\n${servers}`)
}
