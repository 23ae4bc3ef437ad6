import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {rootInUse} from '../../src/clone/in-use.js'
import {expandNodeLocal} from '../../src/clone/node-local.js'
import {planClones} from '../../src/clone/plan.js'
import {hostFiles} from '../../src/system/files.js'
import {writeInRoot} from '../../src/system/root-files.js'
import {parseSite} from '../../src/config/site-file.js'
import {makeRoot} from '../../src/system/paths.js'
import {SITE} from './helpers.js'

const site = parseSite(SITE)

describe('planning nodes clone N', () => {
  it('creates only the missing nodes, keeps addresses of registered ones, and takes the next free addresses', () => {
    const inventory = {nodes: [{name: 'node01', ip: '192.168.0.200'}, {name: 'node03', ip: '192.168.0.205'}, {name: 'other', ip: '192.168.0.201'}]}
    const plan = planClones(site, inventory, 4, (n) => n === 'node01')
    expect(plan.existing).toEqual(['node01'])
    expect(plan.create.map((c) => [c.name, c.ip])).toEqual([['node02', '192.168.0.202'], ['node03', '192.168.0.205'], ['node04', '192.168.0.203']])
  })

  it('site defaults for the clone section', () => {
    expect(site.clone.hostKeyTypes).toEqual(['ed25519', 'ecdsa'])
    expect(site.clone.nodeLocal).toContain('/etc/ssh/ssh_host_*')
    expect(site.clone.concurrency).toBe(4)
    expect(() => parseSite(`${SITE}clone:\n  nodeLocal: [relative/path]\n`)).toThrow(/clone\.nodeLocal/)
  })
})

describe('inside node roots', () => {
  it('never writes through a symlink a node planted, and skips node-local paths under one', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-safe-'))
    try {
      const nodeRoot = path.join(dir, 'root')
      const victim = path.join(dir, 'server-etc')
      await fs.mkdir(victim)
      await fs.mkdir(nodeRoot)
      await fs.symlink(victim, path.join(nodeRoot, 'etc'))
      await expect(writeInRoot(hostFiles, nodeRoot, '/etc/hostname', 'x\n')).rejects.toThrow(/is a symlink/)
      expect(await fs.readdir(victim)).toEqual([])
      await fs.mkdir(path.join(nodeRoot, 'var'))
      await fs.symlink('/etc/passwd', path.join(nodeRoot, 'var/log'))
      // The link itself is node-local state (copied as a link); paths under a linked /etc are not.
      expect(await expandNodeLocal(nodeRoot, ['/etc/hostname', '/var/log', '/etc/ssh/ssh_host_*'])).toEqual(['/var/log'])
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})

describe('is a node root in use?', () => {
  it('reads rmtab, kernel nfsd v4 clients and ganesha recovery entries', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-inuse-'))
    try {
      const root = makeRoot(dir)
      expect(await rootInUse(root, '/srv/nodes/node01', '192.168.0.200')).toEqual([])
      await fs.mkdir(path.join(dir, 'var/lib/nfs/ganesha/v4recov/node0'), {recursive: true})
      await fs.writeFile(path.join(dir, 'var/lib/nfs/rmtab'), '192.168.0.201:/srv/nodes/node02:0x00000001\n192.168.0.200:/srv/nodes/node01:0x00000000\n')
      expect(await rootInUse(root, '/srv/nodes/node01', '192.168.0.200')).toEqual([])
      expect(await rootInUse(root, '/srv/nodes/node02', '192.168.0.201')).toHaveLength(1)
      await fs.mkdir(path.join(dir, 'var/lib/nfs/ganesha/v4recov/node0/::ffff:192.168.0.200-(28:Linux NFSv4.1 node01)'))
      expect((await rootInUse(root, '/srv/nodes/node01', '192.168.0.200'))[0]).toMatch(/NFSv4 client 192\.168\.0\.200/)
      expect(await rootInUse(root, '/srv/nodes/node02', '192.168.0.20')).toHaveLength(1)
      await fs.mkdir(path.join(dir, 'proc/fs/nfsd/clients/7'), {recursive: true})
      await fs.writeFile(path.join(dir, 'proc/fs/nfsd/clients/7/info'), 'clientid: 0x1\naddress: "192.168.0.203:812"\n')
      expect(await rootInUse(root, '/srv/nodes/node04', '192.168.0.203')).toHaveLength(1)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})
