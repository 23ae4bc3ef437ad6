import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {journalFile, resumeSwitches} from '../../src/clone/journal.js'
import {exists, hostFiles} from '../../src/system/files.js'

/** Root entries as directories of `dir`, as the local storage backend keeps them. */
const storage = (dir: string) => ({
  rootExists: (name: string) => exists(path.join(dir, name)),
  renameRoot: (from: string, to: string) => fs.rename(path.join(dir, from), path.join(dir, to)),
})

describe('an interrupted root switch', () => {
  it('is finished forwards by the next run, whichever rename the kill interrupted', async () => {
    for (const killedAfter of [0, 1, 2]) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-journal-'))
      try {
        // A rebase of node01: node01 → node01.previous, then the complete new clone → node01.
        await fs.mkdir(path.join(dir, 'node01'))
        await fs.writeFile(path.join(dir, 'node01/rev'), 'old')
        await fs.mkdir(path.join(dir, '.node01.pxeroot-clone-abcd'))
        await fs.writeFile(path.join(dir, '.node01.pxeroot-clone-abcd/rev'), 'new')
        const renames = [{from: 'node01', to: 'node01.previous'}, {from: '.node01.pxeroot-clone-abcd', to: 'node01'}]
        for (const r of renames.slice(0, killedAfter)) await fs.rename(path.join(dir, r.from), path.join(dir, r.to))
        // The journal may lag one rename behind the disk (killed between rename and record).
        await fs.writeFile(journalFile(dir, 'node01'), JSON.stringify({node: 'node01', renames, done: Math.max(0, killedAfter - 1), entry: {name: 'node01', ip: '192.168.0.200', image: 'lab@2'}}))
        let saved: unknown
        const {inventory, resumed} = await resumeSwitches(hostFiles, dir, {nodes: [{name: 'node01', ip: '192.168.0.200', image: 'lab@1'}]}, () => {}, async (inv) => {
          saved = inv
        }, storage(dir))
        expect(resumed).toEqual(['node01'])
        expect(inventory.nodes[0].image).toBe('lab@2')
        expect(saved).toEqual(inventory)
        expect(await fs.readFile(path.join(dir, 'node01/rev'), 'utf8')).toBe('new')
        expect(await fs.readFile(path.join(dir, 'node01.previous/rev'), 'utf8')).toBe('old')
        expect((await fs.readdir(dir)).sort()).toEqual(['node01', 'node01.previous'])
      } finally {
        await fs.rm(dir, {recursive: true, force: true})
      }
    }
  })
})
