/**
 * Issue 9 item 13: a rebase killed between its renames must not lose the node's rollback root.
 * The superseded previous root used to be renamed aside before the journal was written, so a kill
 * there left it as a leftover the next run deleted. The kill is staged through the Files seam:
 * the write of the switch's journal "dies".
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {rollbackNode} from '../../src/services/nodes-rollback.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {loadInventory} from '../../src/inventory/inventory.js'
import {hostFiles, type Files} from '../../src/system/files.js'
import {context, loopFs, makeRevision, makeSyntheticTree, writeSite, type LoopFs} from './helpers.js'

/** The host's files, but the first journal write of a switch is killed. */
function killedAtJournal(): Files {
  let killed = false
  return {
    ...hostFiles,
    async write(file, data, options) {
      if (!killed && file.endsWith('.pxeroot-journal.json')) {
        killed = true
        throw new Error('killed (SIGKILL) before the journal was written')
      }
      return hostFiles.write(file, data, options)
    },
  }
}

describe('a rebase killed before its journal is written', () => {
  let loop: LoopFs
  let rootDir: string
  beforeAll(async () => {
    loop = await loopFs('ext4')
    rootDir = path.join(loop.mnt, 'root')
    await writeSite(rootDir)
    for (const n of [1, 2, 3]) await makeRevision(rootDir, 'lab', n, makeSyntheticTree, false)
    await cloneNodes(context(rootDir), {count: 1, image: 'lab@1'})
    await rebaseNodes(context(rootDir), {nodes: ['node01'], image: 'lab@2'})
  })
  afterAll(async () => {
    await loop?.cleanup()
  })

  it('keeps the previous root: the next run still rolls the node back to it', async () => {
    const killed = {...context(rootDir), files: killedAtJournal()}
    await expect(rebaseNodes(killed, {nodes: ['node01'], image: 'lab@3'})).rejects.toThrow(/killed/)
    expect((await loadInventory(killed.root)).nodes[0].image).toBe('lab@2')
    const back = await rollbackNode(context(rootDir), 'node01')
    expect(back).toMatchObject({node: 'node01', from: 'lab@2', image: 'lab@1'})
    expect((await fs.readdir(path.join(rootDir, 'srv/nodes'))).sort()).toEqual(['node01', 'node01.previous'])
  })
})
