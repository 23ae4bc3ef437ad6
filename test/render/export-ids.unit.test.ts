/**
 * NFS-Ganesha Export_Ids (issue 9, item 12): Ganesha puts a node's id in every file handle it
 * hands out, so an id must not change while the node's address does not, must be unique, must
 * stay clear of the site's extra exports (65000 up) and of 0 (the pseudo root's); the rare
 * inventory where two nodes would still share one is refused.
 */
import {describe, expect, it} from 'vitest'

import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {inventoryProblems, type Inventory} from '../../src/inventory/inventory.js'
import {renderGaneshaExports} from '../../src/render/nfs/ganesha.js'

const site = (subnet: string, range: string, nfs = 'ganesha') =>
  parseSite(`server: ${subnet.replace(/\.0\/\d+$/, '.1')}\nsubnet: ${subnet}\nnodes: {range: ${range}}\nbackends: {nfs: ${nfs}}\nexports:\n  - {path: /data, clients: ${subnet}}\n`)
const exportIds = (text: string) => [...text.matchAll(/Export_Id = (\d+);/g)].map((m) => Number(m[1]))

describe('NFS-Ganesha export ids', () => {
  it('stay what they were: the low 16 bits of the address (a node keeps its file handles across an upgrade)', () => {
    const s = site('10.20.0.0/16', '10.20.3.1-10.20.3.200')
    const nodes = bootNodesFor(s, {nodes: [{name: 'a', ip: '10.20.3.7'}, {name: 'b', ip: '10.20.0.201'}]})
    expect(nodes.map((n) => n.exportId)).toEqual([3 * 256 + 7, 201])
  })

  it('never take 0 or an extra export\'s id, even at the top of a /16', () => {
    const s = site('10.0.0.0/16', '10.0.253.200-10.0.255.254')
    const inventory: Inventory = {nodes: [{name: 'a', ip: '10.0.253.232'}, {name: 'b', ip: '10.0.255.254'}, {name: 'c', ip: '10.0.253.231'}]}
    expect(inventoryProblems(s, inventory)).toEqual([])
    const ids = exportIds(renderGaneshaExports(s, bootNodesFor(s, inventory)))
    expect(ids).toHaveLength(4)
    expect(new Set(ids).size).toBe(4)
    expect(ids.slice(0, 3).every((id) => id >= 1 && id < 65_000)).toBe(true)
    expect(ids[3]).toBe(65_000)
  })

  it('on a subnet larger than /16: nodes in different /16 blocks keep distinct ids, and two that would share one are refused, both named', () => {
    const s = site('10.0.0.0/15', '10.0.255.0-10.1.0.255')
    expect(inventoryProblems(s, {nodes: [{name: 'a', ip: '10.0.255.10'}, {name: 'b', ip: '10.1.0.10'}]})).toEqual([])
    expect(inventoryProblems(s, {nodes: [{name: 'a', ip: '10.0.0.5', mac: '52:54:00:00:00:01'}, {name: 'b', ip: '10.1.0.5', mac: '52:54:00:00:00:02'}]})).toEqual([
      'node "b": NFS-Ganesha would give it Export_Id 5, as node "a" (10.0.0.5): ids come from the last 16 bits of the address; give one of them an address that differs there'])
    // The kernel NFS server has no such ids.
    expect(inventoryProblems(site('10.0.0.0/15', '10.0.255.0-10.1.0.255', 'kernel'), {nodes: [{name: 'a', ip: '10.0.0.5', mac: '52:54:00:00:00:01'}, {name: 'b', ip: '10.1.0.5', mac: '52:54:00:00:00:02'}]})).toEqual([])
  })

  it('the site\'s extra exports fit in the ids above the nodes\'', () => {
    const exports = (n: number) => Array.from({length: n}, (_, i) => `  - {path: /data/d${i}, clients: 10.0.0.0/16}`).join('\n')
    const text = (n: number) => `server: 10.0.0.1\nsubnet: 10.0.0.0/16\nnodes: {range: 10.0.1.1-10.0.1.9}\nbackends: {nfs: ganesha}\nexports:\n${exports(n)}\n`
    expect(() => parseSite(text(536))).not.toThrow()
    expect(() => parseSite(text(537))).toThrow(/exports: NFS-Ganesha has export ids for 536 extra exports/)
  })
})
