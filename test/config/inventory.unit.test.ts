/**
 * The inventory file as a hand edit leaves it (issue 9, items 7 and 8): each refusal is one line
 * that names the file, the entries at fault (by line) and the fix.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {UserError} from '../../src/errors.js'
import {addNode, setNode} from '../../src/inventory/edit.js'
import {inventoryProblems, loadInventory, parseInventory, saveInventory, serializeInventory} from '../../src/inventory/inventory.js'
import {hostFiles} from '../../src/system/files.js'
import {makeRoot} from '../../src/system/paths.js'
import {freshRootPerTest} from '../support/tmp-root.js'

const site = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\n')

function refusal(text: string): string {
  try {
    parseInventory(text)
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return (error as Error).message
  }
  throw new Error('the inventory was accepted')
}

describe('the inventory file', () => {
  it('a name hand-edited in twice: the file, both entries by line, and the fix', () => {
    const text = 'nodes:\n  - name: node01\n    ip: 192.168.0.200\n  - name: node02\n    ip: 192.168.0.201\n  - name: node01\n    ip: 192.168.0.205\n'
    expect(refusal(text)).toBe('/etc/pxeroot/nodes.yaml: node "node01" (line 6): name node01 is already used by node "node01" (line 2); every node needs its own name: rename or remove one of them')
  })

  it('the same address or MAC twice names both nodes and their lines', () => {
    expect(refusal('nodes:\n  - {name: a1, ip: 192.168.0.201}\n  - {name: a2, ip: 192.168.0.201}\n'))
      .toMatch(/^\/etc\/pxeroot\/nodes\.yaml: node "a2" \(line 3\): ip 192\.168\.0\.201 is already used by node "a1" \(line 2\); every node needs its own ip$/)
    expect(refusal('nodes:\n  - {name: a1, ip: 192.168.0.201, mac: "52:54:00:AA:BB:01"}\n  - {name: a2, ip: 192.168.0.202, mac: "52:54:00:aa:bb:01"}\n'))
      .toMatch(/node "a2" \(line 3\): mac 52:54:00:aa:bb:01 is already used by node "a1" \(line 2\)/)
  })

  it('an unknown key is refused with a "did you mean" (mca: would quietly bind the node by address)', () => {
    expect(refusal('nodes:\n  - name: node07\n    ip: 192.168.0.207\n    mca: 52:54:00:00:00:07\n'))
      .toBe('/etc/pxeroot/nodes.yaml: line 4: nodes.0: unknown field mca; did you mean mac?')
    expect(refusal('nodes:\n  - {name: node07, ip: 192.168.0.207, colour: blue}\n'))
      .toMatch(/nodes\.0: unknown field colour; the fields are name, ip, mac, image, kernelArgs, server, bmc, clone$/)
    expect(refusal('node:\n  - {name: node07, ip: 192.168.0.207}\n')).toMatch(/line 1: unknown field node; did you mean nodes\?/)
  })

  it('a BMC: its driver, address and user; a password in the file is refused with where it goes, one BMC per machine', () => {
    const inv = parseInventory('nodes:\n  - name: node01\n    ip: 192.168.0.200\n    bmc: {address: 10.0.1.101, user: admin}\n')
    expect(inv.nodes[0].bmc).toEqual({driver: 'ipmi', address: '10.0.1.101', user: 'admin'})
    expect(refusal('nodes:\n  - name: node01\n    ip: 192.168.0.200\n    bmc: {address: 10.0.1.101, user: admin, password: s3cret}\n'))
      .toMatch(/line 4: nodes\.0\.bmc\.password: passwords never go in the inventory: "pxeroot nodes set NODE --bmc-password-file FILE" keeps them in \/etc\/pxeroot\/bmc-secrets/)
    expect(refusal('nodes:\n  - name: node01\n    ip: 192.168.0.200\n    bmc: {driver: wol, address: 10.0.1.101, user: admin}\n')).toMatch(/nodes\.0\.bmc\.driver: must be ipmi or redfish/)
    expect(refusal('nodes:\n  - {name: a1, ip: 192.168.0.201, bmc: {address: 10.0.1.101, user: admin}}\n  - {name: a2, ip: 192.168.0.202, bmc: {address: 10.0.1.101, user: admin}}\n'))
      .toMatch(/node "a2" \(line 3\): bmc 10\.0\.1\.101 is already used by node "a1" \(line 2\)/)
    expect(serializeInventory(inv)).toContain('    bmc:\n      driver: ipmi\n      address: 10.0.1.101\n      user: admin\n')
  })

  it('keeps the clone record nodes clone writes', () => {
    const inv = parseInventory('nodes:\n  - name: node01\n    ip: 192.168.0.200\n    image: lab@1\n    clone: {method: rsync, machineId: 0123456789abcdef0123456789abcdef}\n')
    expect(inv.nodes[0]).toMatchObject({name: 'node01', clone: {method: 'rsync'}})
  })

  it('refuses broadcast, multicast and all-zero MACs, in the file and from --mac', () => {
    for (const [mac, why] of [['ff:ff:ff:ff:ff:ff', 'a broadcast'], ['01:00:5e:00:00:fb', 'a multicast'], ['00:00:00:00:00:00', 'an all-zero']]) {
      expect(refusal(`nodes:\n  - {name: a1, ip: 192.168.0.201, mac: "${mac}"}\n`)).toMatch(new RegExp(`line 2: nodes\\.0\\.mac: ${mac} is ${why} address, not a network card's`))
      expect(() => addNode(site, {nodes: []}, 'a1', {mac})).toThrow(new RegExp(`^--mac: ${mac} is ${why} address, not a network card's; `))
      expect(() => setNode({nodes: [{name: 'a1', ip: '192.168.0.201'}]}, 'a1', {mac: mac.toUpperCase()})).toThrow(UserError)
    }
    expect(parseInventory('nodes:\n  - {name: a1, ip: 192.168.0.201, mac: "52-54-00-AA-BB-01"}\n').nodes[0].mac).toBe('52:54:00:aa:bb:01')
  })

  it('on an rbd site, a node named as the revisions\' namespace is refused (its key would write the revisions)', () => {
    const rbd = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nnodes: {range: 192.168.0.200-192.168.0.210}\nstorage: {backend: rbd, rbd: {pool: pxe}}\n')
    expect(() => addNode(rbd, {nodes: []}, 'revisions', {})).toThrow(/^node name revisions: on an rbd site that is the pool's namespace of the image revisions/)
    expect(addNode(site, {nodes: []}, 'revisions', {}).nodes.map((n) => n.name)).toEqual(['revisions'])
    expect(addNode(rbd, {nodes: []}, 'revisions2', {}).nodes.map((n) => n.name)).toEqual(['revisions2'])
  })

  it('a 64-character name is refused with the 63-character limit', () => {
    const long = `n${'0'.repeat(63)}`
    expect(inventoryProblems(site, {nodes: [{name: long, ip: '192.168.0.201'}]})).toEqual([
      `node "${long}": name is 64 characters long; a hostname label has at most 63`])
    expect(inventoryProblems(site, {nodes: [{name: `n${'0'.repeat(62)}`, ip: '192.168.0.201'}]})).toEqual([])
  })
})

describe('the inventory as pxeroot writes and reads it', () => {
  const tmp = freshRootPerTest()
  const nodes = [
    {name: 'node02', ip: '192.168.0.201', kernelArgs: 'console=ttyS0,115200 quiet "x" a: b #c'},
    {name: 'node01', ip: '192.168.0.200', mac: '52:54:00:12:34:56', image: 'lab@3', clone: {method: 'btrfs', machineId: '0123456789abcdef0123456789abcdef', previous: {image: 'lab@2', method: 'btrfs'}}},
  ]

  it('is YAML that reads back as written, sorted by name, a long kernel command line on one line', () => {
    const text = serializeInventory({nodes})
    expect(text).toContain('\nnodes:\n  - name: node01\n    ip: 192.168.0.200\n    mac: 52:54:00:12:34:56\n')
    expect(text).toContain('    kernelArgs: \'console=ttyS0,115200 quiet "x" a: b #c\'\n')
    expect(parseInventory(text).nodes).toEqual([nodes[1], nodes[0]])
  })

  it('is read from its JSON copy only while nodes.yaml is the text pxeroot wrote: a hand edit wins, a damaged copy is ignored', async () => {
    const root = makeRoot(tmp.dir)
    await saveInventory({root, files: hostFiles}, {nodes})
    const copyFile = path.join(tmp.dir, 'var/lib/pxeroot/nodes.json')
    const copy = JSON.parse(await fs.readFile(copyFile, 'utf8')) as {data: {nodes: {name: string}[]}}
    expect(copy.data.nodes.map((n) => n.name)).toEqual(['node01', 'node02'])
    expect((await loadInventory(root)).nodes).toEqual([nodes[1], nodes[0]])

    // A copy that says something else is believed only while the YAML is unchanged: proof it is read.
    copy.data.nodes[0].name = 'fromcopy'
    await fs.writeFile(copyFile, JSON.stringify(copy))
    expect((await loadInventory(root)).nodes[0].name).toBe('fromcopy')

    const yamlFile = path.join(tmp.dir, 'etc/pxeroot/nodes.yaml')
    await fs.appendFile(yamlFile, '  - {name: node03, ip: 192.168.0.203}\n')
    expect((await loadInventory(root)).nodes.map((n) => n.name)).toEqual(['node01', 'node02', 'node03'])

    await saveInventory({root, files: hostFiles}, {nodes})
    await fs.writeFile(copyFile, '{"yamlSha256": "')
    expect((await loadInventory(root)).nodes.map((n) => n.name)).toEqual(['node01', 'node02'])
  })

  it('a copy zod would refuse is refused: its quick check passes only what zod passes as it is', async () => {
    const root = makeRoot(tmp.dir)
    await saveInventory({root, files: hostFiles}, {nodes})
    const copyFile = path.join(tmp.dir, 'var/lib/pxeroot/nodes.json')
    const copy = JSON.parse(await fs.readFile(copyFile, 'utf8')) as {data: {nodes: Record<string, unknown>[]}}
    copy.data.nodes[0].mca = '52:54:00:12:34:56'
    await fs.writeFile(copyFile, JSON.stringify(copy))
    await expect(loadInventory(root)).rejects.toThrow(/^\/etc\/pxeroot\/nodes\.yaml: line \d+: nodes\.0: unknown field mca; did you mean mac\?$/)
  })

  it('a hand edit that breaks a rule is refused with its line, whichever way it is read', async () => {
    const root = makeRoot(tmp.dir)
    await saveInventory({root, files: hostFiles}, {nodes})
    const yamlFile = path.join(tmp.dir, 'etc/pxeroot/nodes.yaml')
    await fs.appendFile(yamlFile, '  - {name: node01, ip: 192.168.0.209}\n')
    const lines = (await fs.readFile(yamlFile, 'utf8')).split('\n')
    const first = lines.indexOf('  - name: node01') + 1
    const second = lines.indexOf('  - {name: node01, ip: 192.168.0.209}') + 1
    expect(first).toBeGreaterThan(0)
    await expect(loadInventory(root)).rejects.toThrow(`node "node01" (line ${second}): name node01 is already used by node "node01" (line ${first})`)
  })
})
