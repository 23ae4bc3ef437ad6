import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cloneNodes} from '../../src/services/nodes-clone.js'
import {revisionRootfs} from '../../src/images/layout.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {type Golden, goldenImage, removeGoldenRoot} from '../support/golden.js'
import {attributeDump, context, treeDifferences} from './helpers.js'

// The real debootstrapped golden image (shared, cached fixture of test/support/golden.ts), cloned
// by the method the temp root's filesystem allows (a full copy on the CI's ext4).
describe('nodes clone of the real golden image', () => {
  let golden: Golden
  beforeAll(async () => {
    golden = await goldenImage()
  }, 3_600_000)
  afterAll(async () => {
    if (golden) await removeGoldenRoot(golden)
  })

  it('3 clones equal the revision (xattrs and capabilities included) except identity, and are distinct machines', async () => {
    const ctx = context(golden.rootPrefix)
    const result = await cloneNodes(ctx, {count: 3, image: `${golden.ref.image}@${golden.ref.revision}`})
    expect(result.created.length).toBe(3)
    const source = golden.root.resolve(revisionRootfs(golden.site, golden.ref))
    const nodeRoot = (n: string) => golden.root.resolve(`/srv/nodes/${n}`)

    expect(treeDifferences(source, nodeRoot('node01'))).toEqual([])
    const attrs = attributeDump(source)
    expect(attributeDump(nodeRoot('node02'))).toEqual(attrs)
    if (await fs.stat(path.join(source, 'usr/bin/ping')).then(() => true, () => false)) expect(attrs.caps).toMatch(/usr\/bin\/ping cap_net_raw/)

    const ids = await Promise.all(['node01', 'node02', 'node03'].map(async (n) => [
      (await fs.readFile(path.join(nodeRoot(n), 'etc/hostname'), 'utf8')).trim(),
      (await fs.readFile(path.join(nodeRoot(n), 'etc/machine-id'), 'utf8')).trim(),
      await fs.readFile(path.join(nodeRoot(n), 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8'),
      await fs.readlink(path.join(nodeRoot(n), 'var/lib/dbus/machine-id')),
    ]))
    expect(ids.map((i) => i[0])).toEqual(['node01', 'node02', 'node03'])
    expect(new Set(ids.map((i) => i[1])).size).toBe(3)
    expect(new Set(ids.map((i) => i[2])).size).toBe(3)
    expect(ids.every((i) => i[3] === '/etc/machine-id')).toBe(true)
    // The golden image itself carries no identity.
    expect((await fs.readFile(path.join(source, 'etc/machine-id'), 'utf8')).trim()).toBe('')
    expect((await loadInventory(ctx.root)).nodes.map((n) => n.image)).toEqual(Array(3).fill(`${golden.ref.image}@${golden.ref.revision}`))
  }, 600_000)
})
