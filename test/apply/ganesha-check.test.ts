/**
 * NFS-Ganesha has no test mode: apply starts the real ganesha.nfsd on the candidate files in
 * throwaway mount and network namespaces and reads its CONFIG errors. Needs root (unshare) and
 * nfs-ganesha + nfs-ganesha-vfs.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {ganeshaConfigErrors} from '../../src/backends/nfs/ganesha-check.js'
import {ValidationError} from '../../src/errors.js'
import {FIXTURES, freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

const isRoot = process.getuid?.() === 0
const tmp = freshRootPerTest()
const siteWith = async (extra: string) => (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + extra

describe.skipIf(!isRoot)('apply with the NFS-Ganesha backend validates the candidate with ganesha.nfsd', () => {
  it('a good candidate passes and is written', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await siteWith('backends: {nfs: ganesha}\n')})
    const t0 = Date.now()
    const result = await applyBootConfig(testContext(tmp.dir))
    expect(result.changes.map((c) => c.path)).toContain('/etc/ganesha/pxeroot.conf')
    // The roots do not exist yet (nodes are cloned later): that is not the configuration's fault.
    expect(await fs.readFile(path.join(tmp.dir, 'etc/ganesha/pxeroot.conf'), 'utf8')).toContain('Path = "/srv/nodes/node01";')
    expect(Date.now() - t0).toBeLessThan(20_000)
  })

  it('refuses a bad export with Ganesha\'s own words, naming the file and line, and writes nothing', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await siteWith('backends: {nfs: ganesha}\n')})
    await applyBootConfig(testContext(tmp.dir))
    // A client network exportfs and the site schema let through, but Ganesha does not take.
    const site = path.join(tmp.dir, 'etc/pxeroot/pxeroot.yaml')
    await fs.writeFile(site, (await fs.readFile(site, 'utf8')).replace('clients: 192.168.0.0/24', 'clients: 192.168.0.0/33'))
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toMatch(/^NFS-Ganesha rejects the generated configuration: \/etc\/ganesha\/pxeroot\.conf:\d+: Expected a IPv4 CIDR address, got \(192\.168\.0\.0\/33\)/)
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })

  it('refuses an unknown parameter in the admin\'s ganesha.conf, which the candidate includes', async () => {
    await seedSite(tmp.dir, {nodes: true, site: await siteWith('backends: {nfs: ganesha}\n')})
    await fs.mkdir(path.join(tmp.dir, 'etc/ganesha'), {recursive: true})
    await fs.writeFile(path.join(tmp.dir, 'etc/ganesha/ganesha.conf'), 'NFS_CORE_PARAM {\n  Protocols = 3, 4;\n  Enable_NLM = flase;\n  Frobnicate = 3;\n}\n')
    const before = await snapshotTree(tmp.dir)
    const error = await applyBootConfig(testContext(tmp.dir)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as Error).message).toContain('/etc/ganesha/ganesha.conf:4: Unknown parameter (Frobnicate)')
    expect((error as Error).message).toContain('/etc/ganesha/ganesha.conf:3: Expected boolean (true/false) got (flase)')
    expect(await snapshotTree(tmp.dir)).toEqual(before)
  })
})

// Lines of real ganesha.nfsd 4.3 logs (the date and host cut).
const LOG = (lines: string[]) => lines.map((l) => `27/11/2026 15:30:27 : epoch 6b09a213 : vm : nfs-ganesha-1[main] ${l}`).join('\n')

describe('Ganesha\'s CONFIG errors, read from its log', () => {
  it('keeps the reasons, in the host\'s file names, and drops the counts that only sum them up', () => {
    const log = LOG([
      'load_rados_config :CONFIG :WARN :Missing RADOS URLs backend library',
      'config_errs_to_log :CONFIG :WARN :Config File (/tmp/x/pxeroot.conf:11): Unknown token (Sometimes)',
      'config_errs_to_log :CONFIG :WARN :Config File (/tmp/x/pxeroot.conf:8): Unknown parameter (Frobnicate)',
      'config_errs_to_log :CONFIG :WARN :Config File (/tmp/x/ganesha.conf:12): 1 (unknown param) errors found block EXPORT',
      'ganesha_yyerror :CONFIG :CRIT :Config file (/tmp/x/ganesha.conf:3) error: syntax error',
    ])
    expect(ganeshaConfigErrors(log, new Map([['/tmp/x/pxeroot.conf', '/etc/ganesha/pxeroot.conf'], ['/tmp/x/ganesha.conf', '/etc/ganesha/ganesha.conf']]))).toEqual([
      '/etc/ganesha/pxeroot.conf:11: Unknown token (Sometimes)',
      '/etc/ganesha/pxeroot.conf:8: Unknown parameter (Frobnicate)',
      '/etc/ganesha/ganesha.conf:3: syntax error',
    ])
  })

  it('does not blame the configuration for an export whose directory does not exist yet', () => {
    const log = LOG([
      'resolve_posix_filesystem :FSAL :CRIT :stat returned No such file or directory (2) while resolving export path /srv/nodes/node01',
      'fsal_cfg_commit :CONFIG :CRIT :Could not create export for (/srv/nodes/node01) to (/srv/nodes/node01)',
      'config_errs_to_log :CONFIG :CRIT :Config File (/tmp/x/pxeroot.conf:9): 1 validation errors in block FSAL',
      'config_errs_to_log :CONFIG :CRIT :Config File (/tmp/x/pxeroot.conf:1): Errors processing block (EXPORT)',
    ])
    expect(ganeshaConfigErrors(log, new Map())).toEqual([])
    // The same counts without a missing directory behind them are an error of their own.
    expect(ganeshaConfigErrors(LOG(['config_errs_to_log :CONFIG :CRIT :Config File (/a.conf:1): Errors processing block (EXPORT)']), new Map())).toEqual(['/a.conf:1: Errors processing block (EXPORT)'])
  })
})
