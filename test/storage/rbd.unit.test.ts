import {describe, expect, it} from 'vitest'

import {rbdRootArgs} from '../../src/boot/rbd-root.js'
import {bootNodesFor} from '../../src/boot/nodes.js'
import {withStorageSection} from '../../src/config/site-edit.js'
import {parseSite} from '../../src/config/site-file.js'
import {monitorsFromCephConf} from '../../src/storage/rbd/ceph-conf.js'
import {nodeCaps, revisionNumbers, rootEntry, rootSpec, rootUuid} from '../../src/storage/rbd/names.js'
import {planRbd, type ClusterFacts} from '../../src/storage/rbd/prepare.js'
import {cephArgv} from '../../src/system/ceph.js'

const SITE = 'server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n'

describe('the kernel command line of an rbd node (the contract with the boot script)', () => {
  it('names monitors, pool, namespace, image, user and key, then ip=dhcp rw', () => {
    expect(rbdRootArgs({monitors: ['10.0.0.1:6789', '10.0.0.2:6789'], pool: 'pxe', namespace: 'node01', image: 'root', user: 'node01', secret: 'AQBk+/z=='}))
      .toBe('boot=rbd pxeroot.rbd=10.0.0.1:6789,10.0.0.2:6789/pxe/node01/root pxeroot.rbd_user=node01 pxeroot.rbd_key=AQBk+/z== ip=dhcp rw')
  })

  it('is what every loader of the node boots, with the node\'s own arguments after it, and no NFS export for it', () => {
    const site = parseSite(SITE)
    const [node] = bootNodesFor(site, {nodes: [{name: 'node01', ip: '10.77.0.100', kernelArgs: 'quiet'}]}, {image: 'lab', revision: 2},
      new Map([['node01', {kind: 'rbd', monitors: ['10.77.0.253:6789'], pool: 'p', namespace: 'node01', image: 'root', user: 'node01', secret: 'S'}]]))
    expect(node.cmdline).toBe('boot=rbd pxeroot.rbd=10.77.0.253:6789/p/node01/root pxeroot.rbd_user=node01 pxeroot.rbd_key=S ip=dhcp rw pxeroot.revision=lab@2 quiet')
    expect(node.root.kind).toBe('rbd')
    expect(node.exportedHere).toBe(false)
  })
})

describe('monitors from ceph.conf', () => {
  it('takes v1 and bare addresses, once each, in order, and leaves v2-only ones out', () => {
    expect(monitorsFromCephConf('[global]\nmon_host = v2:10.77.0.253:3300,v1:10.77.0.253:6789\n').monitors).toEqual(['10.77.0.253:6789'])
    expect(monitorsFromCephConf('mon host = [v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0]').monitors).toEqual(['10.0.0.1:6789', '10.0.0.2:6789'])
    expect(monitorsFromCephConf('mon_host = 10.0.0.1, 10.0.0.2:6790;10.0.0.3  # three\n').monitors).toEqual(['10.0.0.1:6789', '10.0.0.2:6790', '10.0.0.3:6789'])
    expect(monitorsFromCephConf('mon_host = 10.0.0.1:3300').monitors).toEqual([])
  })

  it('reports host names (a kernel command line needs addresses) and a missing mon_host', () => {
    expect(monitorsFromCephConf('mon_host = ceph-a.example,10.0.0.2')).toEqual({monitors: ['10.0.0.2:6789'], unusable: ['ceph-a.example'], found: true})
    expect(monitorsFromCephConf('[global]\nfsid = x\n').found).toBe(false)
  })
})

describe('where roots live in the pool', () => {
  it('maps every root entry to an image of its node\'s namespace and back', () => {
    for (const [entry, image] of [['node01', 'root'], ['node01.previous', 'root.previous'], ['.node01.pxeroot-clone-0a1b2c3d', '.root.pxeroot-clone-0a1b2c3d'],
      ['.node01.previous.pxeroot-trash-0a1b2c3d', '.root.previous.pxeroot-trash-0a1b2c3d'], ['web-1', 'root']]) {
      const ns = entry.replace(/^\./, '').split('.')[0]
      expect(rootSpec(entry)).toEqual({namespace: ns, image})
      expect(rootEntry(ns, image)).toBe(entry)
    }
    expect(rootEntry('node01', 'something-else')).toBeUndefined()
  })

  it('finds an image\'s revisions among revision images, not another image\'s', () => {
    expect(revisionNumbers('lab', ['lab-1', 'lab-12', 'lab-x-3', 'lab2-4', 'other-1'])).toEqual([1, 12])
  })

  it('gives each node\'s root an ext4 UUID of its own, the same wherever it is computed (an NFS fsid per root, stable across servers)', () => {
    const a = rootUuid('pxe', 'node01')
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(rootUuid('pxe', 'node01')).toBe(a)
    expect(new Set([a, rootUuid('pxe', 'node02'), rootUuid('other', 'node01')]).size).toBe(3)
  })

  it('gives a node\'s key its own namespace and the revisions read-only, nothing else', () => {
    expect(nodeCaps('pxe', 'node01')).toEqual({mon: 'profile rbd', osd: 'profile rbd pool=pxe namespace=node01, profile rbd-read-only pool=pxe namespace=revisions', mgr: 'profile rbd pool=pxe namespace=node01'})
  })
})

describe('storage prepare --rbd: what it would do', () => {
  const facts: ClusterFacts = {health: 'HEALTH_OK', checks: {}, pools: ['pxe'], compat: 'luminous', applications: {}, namespaces: []}
  const settings = {pool: 'pxe', cephConf: '/etc/ceph/ceph.conf', id: 'admin', mode: 'direct' as const}

  it('enables rbd on the pool, sets clone v2 and makes the revisions namespace, each only when missing', () => {
    expect(planRbd(settings, facts, true).map((s) => s.kind)).toEqual(['application', 'compat', 'namespace', 'site'])
    expect(planRbd(settings, {...facts, compat: 'reef', applications: {rbd: {}}, namespaces: ['revisions']}, false)).toEqual([])
  })

  it('refuses a missing pool, another application\'s pool and an unhealthy cluster', () => {
    expect(() => planRbd(settings, {...facts, pools: ['rbd']}, true)).toThrow(/pool pxe does not exist in the cluster \(pools: rbd\); nothing was changed/)
    expect(() => planRbd(settings, {...facts, applications: {cephfs: {}}}, true)).toThrow(/pool pxe is used by cephfs/)
    expect(() => planRbd(settings, {...facts, health: 'HEALTH_ERR', checks: {OSD_FULL: '1 full osd(s)'}}, true)).toThrow(/HEALTH_ERR \(1 full osd\(s\)\)/)
  })

  it('records the backend in the site file, appending the section and keeping every other line', () => {
    const text = '# my site\nserver: 10.77.0.1   # the server\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n'
    const next = withStorageSection(text, {backend: 'rbd', rbd: {...settings, netns: 'lab'}})
    expect(next.startsWith(text)).toBe(true)
    expect(parseSite(next).storage).toEqual({backend: 'rbd', rbd: {...settings, netns: 'lab'}})
    const again = withStorageSection(next, {backend: 'rbd', rbd: {...settings, pool: 'other'}})
    expect(again).toContain('server: 10.77.0.1')
    expect(parseSite(again).storage.rbd?.pool).toBe('other')
  })

  it('refuses an rbd backend without its settings, naming the field and the command', () => {
    expect(() => parseSite(`${SITE}storage: {backend: rbd}\n`)).toThrow(/storage.rbd: is required with storage.backend: rbd/)
    expect(() => parseSite(`${SITE}storage: {backend: rbd, rbd: {pool: p, monitors: [10.0.0.1]}}\n`)).toThrow(/storage.rbd.monitors.0: must be a monitor address ADDR:PORT/)
  })
})

describe('a Ceph client\'s argv', () => {
  it('runs in the cluster\'s namespace (nsenter --net alone), bounded with a kill, and dies with pxeroot', () => {
    expect(cephArgv({netns: 'lab'}, 30, 'rbd', ['ls'])).toEqual(['nsenter', ['--net=/run/netns/lab', '--', 'setpriv', '--pdeathsig', 'KILL', '--', 'timeout', '-k', '5', '30', 'setpriv', '--pdeathsig', 'KILL', '--', 'rbd', 'ls']])
    expect(cephArgv({}, 30, 'rbd', ['ls'])[0]).toBe('setpriv')
  })
})
