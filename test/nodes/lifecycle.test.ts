import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cloneNodes} from '../../src/services/nodes-clone.js'
import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {rollbackNode} from '../../src/services/nodes-rollback.js'
import {listNodes} from '../../src/services/nodes-list.js'
import {removeNodeAndRoot} from '../../src/services/nodes-rm.js'
import {context, loopFs, makeRevision, makeSyntheticTree, writeSite, type LoopFs} from '../clone/helpers.js'

describe('what nodes list shows through a node\'s life on btrfs: clone, rebase, rollback, rm', () => {
  let loop: LoopFs
  let rootDir: string

  beforeAll(async () => {
    loop = await loopFs('btrfs')
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir)
    await makeRevision(rootDir, 'lab', 1, makeSyntheticTree, true)
    await cloneNodes(context(rootDir), {count: 2})
    await makeRevision(rootDir, 'lab', 2, makeSyntheticTree, true)
  })
  afterAll(async () => {
    await loop?.cleanup()
  })

  const row = async (name: string) => (await listNodes(context(rootDir), {size: true})).find((r) => r.name === name)!

  it('a fresh clone: its revision, the snapshot method, a small exclusive size, and behind once a newer revision exists', async () => {
    expect(await row('node01')).toMatchObject({image: 'lab@1', method: 'btrfs', rootExists: true, sizeKind: 'exclusive', behind: 1, previousRoot: null})
    expect((await row('node01')).size).toBeLessThan(1 << 20)
  })

  it('after rebase the node is on the new revision with its previous root kept; rollback brings the old one back', async () => {
    await rebaseNodes(context(rootDir), {nodes: ['node01'], image: 'lab@2'})
    expect(await row('node01')).toMatchObject({image: 'lab@2', behind: 0, previousRoot: '/srv/nodes/node01.previous (lab@1)'})
    await rollbackNode(context(rootDir), 'node01')
    expect(await row('node01')).toMatchObject({image: 'lab@1', behind: 1})
  })

  it('nodes rm removes the boot entries, then the root and the kept previous root', async () => {
    const result = await removeNodeAndRoot(context(rootDir), 'node01', {})
    expect(result.removedRoots.sort()).toEqual(['/srv/nodes/node01', '/srv/nodes/node01.previous'])
    expect((await listNodes(context(rootDir))).map((r) => r.name)).toEqual(['node02'])
    await expect(fs.stat(path.join(rootDir, 'srv/nodes/node01'))).rejects.toThrow()
    await expect(removeNodeAndRoot(context(rootDir), 'node01', {})).rejects.toThrow(/no node named node01/)
  })
})
