/**
 * The lab runs the files apply generated with only its documented delta (README, "The lab").
 * Each case renders the generated files, asks the backend's lab hook for the lab's versions and
 * diffs them line by line: whatever the diff shows beyond the delta is a failure. The daemons'
 * own checkers then accept the lab's versions (dhcpd -t / -T; Ganesha, as root).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ISC_PATHS, iscDhcpd} from '../../src/backends/dhcp/isc.js'
import {checkGanesha} from '../../src/backends/nfs/ganesha-check.js'
import {mapGaneshaExportPaths, setGaneshaParam} from '../../src/backends/nfs/ganesha-conf.js'
import {GANESHA_PATHS, nfsGanesha} from '../../src/backends/nfs/ganesha.js'
import {type LabEnv} from '../../src/backends/types.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {parseSite} from '../../src/config/site-file.js'
import {PreconditionError} from '../../src/errors.js'
import {parseInventory} from '../../src/inventory/inventory.js'
import {hostFiles} from '../../src/system/files.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner} from '../../src/system/runner.js'
import {delta} from '../support/line-delta.js'

const SITE = parseSite('server: 10.77.0.1\nsubnet: 10.77.0.0/24\ndns: [10.77.0.1]\ndomain: lab.test\nnodes:\n  range: 10.77.0.100-10.77.0.150\nbackends: {nfs: ganesha}\n')
const NODES = bootNodesFor(SITE, parseInventory('nodes:\n  - {name: node01, ip: 10.77.0.100, mac: "52:54:00:aa:00:01", image: debian-bookworm@1}\n  - {name: node02, ip: 10.77.0.101, image: debian-bookworm@1}\n'))
const MODEL = {site: SITE, nodes: NODES, dhcpBoot: {bios: 'pxelinux.0'}}
const ROOT = makeRoot('/tmp/golden-root')
const RUN = '/tmp/pxeroot-lab-x'

/** What apply would write, by host path, for a server that had no admin files yet. */
function generated(backend: typeof iscDhcpd): Map<string, string> {
  return new Map(backend.files(MODEL, new Map()).map((f) => [f.path, String(f.content)]))
}

function env(files: Map<string, string>, root = ROOT, offers: LabEnv['offers'] = []): LabEnv {
  return {generated: files, runDir: RUN, iface: 'br0', root, server: SITE.server, offers}
}

const fileOf = (files: {name: string, content: string}[], name: string) => files.find((f) => f.name === name)?.content

describe('ISC dhcpd in the lab: the generated files, its private paths and interface', () => {
  const files = generated(iscDhcpd)

  it('changes only the include path under --root, and nothing at all under "/"', () => {
    const lab = iscDhcpd.lab!(env(files))
    expect(delta(files.get(ISC_PATHS.main)!, fileOf(lab.files, 'dhcpd.conf')!)).toEqual({
      removed: ['include "/etc/dhcp/pxeroot.conf";'],
      added: ['include "/tmp/golden-root/etc/dhcp/pxeroot.conf";'],
    })
    expect(fileOf(iscDhcpd.lab!(env(files, makeRoot('/'))).files, 'dhcpd.conf')).toBe(files.get(ISC_PATHS.main))
    // The include is read from disk as apply wrote it: the lab has no copy of it.
    expect(lab.files.map((f) => f.name).sort()).toEqual(['dhcpd.conf', 'dhcpd.leases'])
    expect(lab.args).toEqual(['-f', '-d', '-4', '-cf', `${RUN}/dhcpd.conf`, '-lf', `${RUN}/dhcpd.leases`, '-pf', `${RUN}/dhcpd.pid`, 'br0'])
  })

  it('seeds lease state, never a host entry, and dhcpd accepts both files', async () => {
    const lab = iscDhcpd.lab!(env(files, makeRoot('/'), [{mac: '52:54:00:4d:00:66', ip: '10.77.0.102'}]))
    expect(fileOf(lab.files, 'dhcpd.leases')).toBe('lease 10.77.0.102 {\n  binding state free;\n  hardware ethernet 52:54:00:4d:00:66;\n}\n')
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-lab-delta-'))
    try {
      const include = path.join(dir, 'pxeroot.conf')
      await fs.writeFile(include, files.get(ISC_PATHS.include)!)
      const conf = path.join(dir, 'dhcpd.conf')
      await fs.writeFile(conf, fileOf(lab.files, 'dhcpd.conf')!.replace('/etc/dhcp/pxeroot.conf', include))
      const leases = path.join(dir, 'dhcpd.leases')
      await fs.writeFile(leases, fileOf(lab.files, 'dhcpd.leases')!)
      const test = await execa('dhcpd', ['-t', '-4', '-cf', conf], {reject: false})
      expect(test.exitCode, test.stderr).toBe(0)
      const leaseTest = await execa('dhcpd', ['-T', '-4', '-cf', conf, '-lf', leases], {reject: false})
      expect(leaseTest.exitCode, leaseTest.stderr).toBe(0)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })

  it('refuses to run before apply wrote the configuration', () => {
    expect(() => iscDhcpd.lab!(env(new Map()))).toThrow(PreconditionError)
  })
})

describe('NFS-Ganesha in the lab: the generated files, its private state, MOUNT logging, disk paths under --root', () => {
  const files = generated(nfsGanesha)

  it('under --root: Path on disk, Pseudo kept, Mount_Path_Pseudo, recovery state and MOUNT logging added, include to the lab\'s copy', () => {
    const lab = nfsGanesha.lab!(env(files))
    const exportsDelta = delta(files.get(GANESHA_PATHS.exports)!, fileOf(lab.files, 'ganesha-pxeroot.conf')!)
    expect(exportsDelta).toEqual({
      removed: ['  Path = "/srv/nodes/node01";', '  Path = "/srv/nodes/node02";'],
      added: ['  Path = "/tmp/golden-root/srv/nodes/node01";', '  Path = "/tmp/golden-root/srv/nodes/node02";'],
    })
    expect(fileOf(lab.files, 'ganesha-pxeroot.conf')).toContain('Pseudo = "/srv/nodes/node02";')
    const mainDelta = delta(files.get(GANESHA_PATHS.main)!, fileOf(lab.files, 'ganesha.conf')!)
    expect(mainDelta.removed).toEqual(['%include "/etc/ganesha/pxeroot.conf"'])
    expect(mainDelta.added).toEqual([
      '  Mount_Path_Pseudo = true;',
      `  RecoveryRoot = "${RUN}/ganesha-recovery";`,
      `%include "${RUN}/ganesha-pxeroot.conf"`,
      'LOG {',
      '  COMPONENTS { NFSPROTO = DEBUG; }',
      '}',
    ])
    expect(lab.args).toEqual(['-F', '-L', `${RUN}/ganesha.log`, '-f', `${RUN}/ganesha.conf`, '-p', `${RUN}/ganesha.pid`])
  })

  it('under "/": the export file as it is on disk, and only the private state and MOUNT logging in the main file', () => {
    const lab = nfsGanesha.lab!(env(files, makeRoot('/')))
    expect(lab.files.map((f) => f.name)).toEqual(['ganesha.conf'])
    const mainDelta = delta(files.get(GANESHA_PATHS.main)!, fileOf(lab.files, 'ganesha.conf')!)
    expect(mainDelta.removed).toEqual([])
    expect(mainDelta.added).toEqual([`  RecoveryRoot = "${RUN}/ganesha-recovery";`, 'LOG {', '  COMPONENTS { NFSPROTO = DEBUG; }', '}'])
  })

  it('adds to the admin\'s own blocks, last, and never repeats a block (a repeated one resets the first to defaults)', () => {
    const own = new Map(files)
    own.set(GANESHA_PATHS.main, 'NFS_CORE_PARAM {\n  Enable_NLM = false;\n  Mount_Path_Pseudo = false; # mine\n}\nLOG { Default_Log_Level = WARN; COMPONENTS { ALL = WARN; } }\n%include "/etc/ganesha/pxeroot.conf"\n')
    const conf = fileOf(nfsGanesha.lab!(env(own)).files, 'ganesha.conf')!
    expect(conf.match(/NFS_CORE_PARAM/g)).toHaveLength(1)
    expect(conf.match(/LOG \{/g)).toHaveLength(1)
    expect(conf).toContain('  Mount_Path_Pseudo = false; # mine\n  Mount_Path_Pseudo = true;\n}')
    expect(conf).toContain('LOG { Default_Log_Level = WARN; COMPONENTS { ALL = WARN; NFSPROTO = DEBUG; } }')
    expect(conf).toMatch(/\nNFSV4 \{\n {2}RecoveryRoot = "[^"]+";\n\}\n$/)
  })

  it('refuses to run before apply wrote the configuration', () => {
    expect(() => nfsGanesha.lab!(env(new Map([[GANESHA_PATHS.main, files.get(GANESHA_PATHS.main)!]])))).toThrow(/no NFS-Ganesha configuration at \/etc\/ganesha\/pxeroot\.conf/)
  })

  describe.skipIf(process.getuid?.() !== 0)('Ganesha itself', () => {
    let dir: string
    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-lab-delta-'))
    })
    afterAll(async () => {
      await fs.rm(dir, {recursive: true, force: true})
    })

    it('accepts the lab\'s main file and export copy', async () => {
      const lab = nfsGanesha.lab!({...env(files), runDir: dir})
      const ctx = {root: makeRoot('/'), runner: execaRunner(), files: hostFiles, signal: new AbortController().signal}
      await expect(checkGanesha(ctx, {main: fileOf(lab.files, 'ganesha.conf')!, exports: fileOf(lab.files, 'ganesha-pxeroot.conf')!},
        {main: GANESHA_PATHS.main, exports: path.join(dir, 'ganesha-pxeroot.conf')})).resolves.toBeUndefined()
    })
  })
})

describe('Ganesha configuration edits keep everything they do not name', () => {
  it('finds blocks past comments and strings with braces in them', () => {
    const text = '# NFSV4 { not a block }\nEXPORT { Path = "/a{b}"; Pseudo = "/p"; }\nNFSV4 {\n  Graceless = true;\n}\n'
    expect(setGaneshaParam(text, ['NFSV4'], 'RecoveryRoot', '"/r"')).toBe(text.replace('  Graceless = true;\n', '  Graceless = true;\n  RecoveryRoot = "/r";\n'))
    expect(mapGaneshaExportPaths(text, (p) => `/disk${p}`)).toBe(text.replace('Path = "/a{b}"', 'Path = "/disk/a{b}"'))
  })

  it('rewrites only an EXPORT\'s own Path, quoted or not', () => {
    const text = 'EXPORT {\n  Path = /srv/a;\n  Pseudo = /srv/a;\n  FSAL { Name = VFS; Path = "/x"; }\n}\nOTHER { Path = "/y"; }\n'
    expect(mapGaneshaExportPaths(text, (p) => `/disk${p}`)).toBe(text.replace('  Path = /srv/a;', '  Path = "/disk/srv/a";'))
  })
})
