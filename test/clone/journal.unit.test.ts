import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {journalFile, resumeSwitches, switchInBatches} from '../../src/clone/journal.js'
import {type InventoryNode} from '../../src/inventory/inventory.js'
import {exists, hostFiles, type Files} from '../../src/system/files.js'

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

  it('of a killed batch of clones is finished for every node whose root was complete; a node whose temp root is gone is abandoned', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-journal-'))
    try {
      // A batch of three clones, killed after node01's rename; node03's temp root was removed.
      const sw = (n: number) => ({node: `node0${n}`, renames: [{from: `.node0${n}.pxeroot-clone-abcd`, to: `node0${n}`}], done: 0, entry: {name: `node0${n}`, ip: `192.168.0.20${n}`, image: 'lab@1'}})
      await fs.mkdir(path.join(dir, 'node01'))
      await fs.mkdir(path.join(dir, '.node02.pxeroot-clone-abcd'))
      await fs.writeFile(path.join(dir, '._batch-0a1b2c3d.pxeroot-journal.json'), JSON.stringify({switches: [sw(1), sw(2), sw(3)]}))
      const lines: string[] = []
      const {inventory, resumed} = await resumeSwitches(hostFiles, dir, {nodes: []}, (l) => lines.push(l), async () => {}, storage(dir))
      expect(resumed).toEqual(['node01', 'node02'])
      expect(inventory.nodes.map((n) => n.name)).toEqual(['node01', 'node02'])
      expect(lines.join('\n')).toMatch(/abandoning the interrupted switch of node03/)
      expect((await fs.readdir(dir)).sort()).toEqual(['node01', 'node02'])
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})

describe('clones switched into place in groups', () => {
  it('commit the switches that are ready together, and fail only the switch whose rename failed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-journal-'))
    try {
      const commits: string[][] = []
      let durable = 0
      const files: Files = {
        ...hostFiles,
        async write(file, data, options) {
          if (options?.sync !== false) durable++
          await hostFiles.write(file, data, options)
        },
      }
      const switchRoot = switchInBatches(files, dir, async (entries: InventoryNode[]) => {
        commits.push(entries.map((e) => e.name))
        await new Promise((r) => setTimeout(r, 20))
      }, storage(dir))
      const names = Array.from({length: 12}, (_, i) => `node${String(i + 1).padStart(2, '0')}`)
      for (const name of names) if (name !== 'node07') await fs.mkdir(path.join(dir, `.${name}.pxeroot-clone-abcd`))
      const outcomes = await Promise.allSettled(names.map(async (name, i) => {
        await new Promise((r) => setTimeout(r, i < 4 ? 0 : 5))
        await switchRoot({node: name, renames: [{from: `.${name}.pxeroot-clone-abcd`, to: name}], entry: {name, ip: `192.168.0.${200 + i}`}})
      }))
      expect(outcomes.map((o) => o.status)).toEqual(names.map((n) => (n === 'node07' ? 'rejected' : 'fulfilled')))
      expect(commits.flat().sort()).toEqual(names.filter((n) => n !== 'node07'))
      // 11 switches, committed in a few groups: one durable journal per group, not per node.
      expect(commits.length).toBeLessThan(5)
      expect(durable).toBe(commits.length)
      expect((await fs.readdir(dir)).sort()).toEqual(names.filter((n) => n !== 'node07'))
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })

  it('when the inventory cannot be saved, puts the group\'s roots back under their temp names and leaves no journal', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-journal-'))
    try {
      for (const name of ['node01', 'node02']) await fs.mkdir(path.join(dir, `.${name}.pxeroot-clone-abcd`))
      const switchRoot = switchInBatches(hostFiles, dir, async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'})
      }, storage(dir))
      const outcomes = await Promise.allSettled(['node01', 'node02'].map((name, i) => switchRoot({node: name, renames: [{from: `.${name}.pxeroot-clone-abcd`, to: name}], entry: {name, ip: `192.168.0.20${i}`}})))
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected'])
      expect((await fs.readdir(dir)).sort()).toEqual(['.node01.pxeroot-clone-abcd', '.node02.pxeroot-clone-abcd'])
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})
