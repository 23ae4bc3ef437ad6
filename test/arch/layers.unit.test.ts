/**
 * The house rule of issue 8: commands → services → domain modules → system, and no import runs
 * upward. The folders under src/ are ranked bottom to top below; a file may import from its own
 * folder or from a folder ranked below it. Type-only imports count too: a type is a dependency.
 * A strict ranking also rules out cycles between folders.
 */
import {describe, expect, it} from 'vitest'

import {folderOf, importsOf, sources} from './source.js'

/** Bottom first. */
export const LAYERS = [
  'errors', // the exit-code table and error classes: everyone may throw them
  'system', // the only code that spawns, mounts, locks, or writes/removes outside a temp dir
  'config', // the site: schema, parsing, addresses
  'storage', // the storage seam: where revisions and roots live (local disk, Ceph RBD), and preparing it
  'inventory', // the nodes file: schema, parsing, edits
  'images', // image revisions: layout, manifests, recipes, store, build steps
  'clone', // node roots: clone methods, identity, journal, rebase of one root
  'boot', // the boot model: what each node boots, the same for every loader
  'render', // pure renderers, one per file format
  'backends', // the seams: DHCP servers, boot loaders, NFS servers, web server
  'servers', // several boot servers: what each publishes of itself, how the others are reached
  'apply', // desired state → plan → validate → write → reload
  'doctor',
  'status',
  'lab',
  'schedule',
  'rollout', // a rollout's plan, record and report: which nodes, in which waves, how each ended
  'services', // one workflow per user action
  'cli', // the oclif base command, shared flags, output formatting
  'commands', // parse argv, call one service, print
] as const

describe('layering of src/', () => {
  const files = sources()

  it('puts every file in a known layer', () => {
    const unknown = [...new Set(files.map((f) => f.folder))].filter((f) => !(LAYERS as readonly string[]).includes(f))
    expect(unknown, 'folders (or files at src/) missing from LAYERS').toEqual([])
  })

  it('has no import from a higher layer (so no cycle between folders)', () => {
    const rank = (folder: string) => (LAYERS as readonly string[]).indexOf(folder)
    const upward: string[] = []
    for (const file of files) {
      for (const imp of importsOf(file)) {
        if (!imp.target) continue
        const to = folderOf(imp.target)
        if (rank(to) > rank(file.folder)) upward.push(`src/${file.rel}:${imp.line} (${file.folder}) imports ${imp.spec} (${to})`)
      }
    }
    expect(upward).toEqual([])
  })

  it('imports only modules that exist', async () => {
    const {existsSync} = await import('node:fs')
    const path = await import('node:path')
    const {SRC} = await import('./source.js')
    const missing = files.flatMap((file) => importsOf(file).filter((i) => i.target && !existsSync(path.join(SRC, i.target))).map((i) => `src/${file.rel}:${i.line} ${i.spec}`))
    expect(missing).toEqual([])
  })
})
