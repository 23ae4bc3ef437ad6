/**
 * The cluster side of an RBD boot, made directly with the Ceph CLI in the shared test cluster
 * (test/support/ceph.ts), as the rbd storage backend lays it out (issue 17): a revision is an
 * ext4 image of the golden tree (`mke2fs -d`, no loop device) imported into namespace
 * `revisions`, snapshotted and protected as NAME@N; a node's root is a clone of it in the node's
 * own namespace (POOL/NODE/root); each node has a cephx key whose caps reach only its namespace
 * (and the revisions, read-only); identity is written into the clone by attaching it on the
 * server (qemu-storage-daemon's FUSE export + a loop device, inside the cluster's namespace).
 * Until `nodes clone` makes these on an rbd site, the lab's RBD test uses this.
 */
import {execa, type ResultPromise} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {type RbdRootSpec} from '../../src/boot/rbd-root.js'
import {type TestCluster} from './ceph-client.js'

export const POOL = 'rbd'
const REVISIONS = 'revisions'

/** An ext4 image of `tree` imported as revisions/NAME, snapshot NAME@REV, protected. */
export async function importRevision(cluster: TestCluster, tree: string, name: string, revision: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-revision-'))
  try {
    const file = path.join(dir, `${name}.ext4`)
    // Sparse: the import skips what the tree does not fill.
    await execa('truncate', ['-s', '3G', file])
    await execa('mke2fs', ['-q', '-t', 'ext4', '-L', 'root', '-d', tree, file], {timeout: 600_000})
    await cluster.rbd(['namespace', 'create', `${POOL}/${REVISIONS}`]).catch((error: Error) => {
      if (!/exist/i.test(error.message)) throw error
    })
    await cluster.rbd(['import', '--no-progress', '--dest-pool', POOL, '--dest-namespace', REVISIONS, file, name])
    const snap = `${POOL}/${REVISIONS}/${name}@${revision}`
    await cluster.rbd(['snap', 'create', '--no-progress', snap])
    await cluster.rbd(['snap', 'protect', snap])
    return snap
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}

/** Node `node`'s root: a clone of the revision in its own namespace, and its own key. Returns what its kernel command line must say. */
export async function cloneForNode(cluster: TestCluster, snap: string, node: string): Promise<RbdRootSpec> {
  await cluster.rbd(['namespace', 'create', `${POOL}/${node}`])
  await cluster.rbd(['clone', snap, `${POOL}/${node}/root`])
  await cluster.ceph(['auth', 'get-or-create', `client.${node}`, 'mon', 'profile rbd', 'osd', `profile rbd pool=${POOL} namespace=${node}, profile rbd-read-only pool=${POOL} namespace=${REVISIONS}`])
  const secret = (await cluster.ceph(['auth', 'get-key', `client.${node}`])).trim()
  return {monitors: [cluster.monitor], pool: POOL, namespace: node, image: 'root', user: node, secret}
}

/** Removes a node's clone, namespace and key (what `nodes rm` will do on an rbd site). */
export async function removeNodeRoot(cluster: TestCluster, node: string): Promise<void> {
  await cluster.rbd(['rm', '--no-progress', `${POOL}/${node}/root`]).catch(() => undefined)
  await cluster.rbd(['namespace', 'remove', `${POOL}/${node}`]).catch(() => undefined)
  await cluster.ceph(['auth', 'rm', `client.${node}`]).catch(() => undefined)
}

/** Removes a revision whose clones are gone. */
export async function removeRevision(cluster: TestCluster, snap: string): Promise<void> {
  await cluster.rbd(['snap', 'unprotect', snap]).catch(() => undefined)
  await cluster.rbd(['snap', 'purge', '--no-progress', snap.split('@')[0]]).catch(() => undefined)
  await cluster.rbd(['rm', '--no-progress', snap.split('@')[0]]).catch(() => undefined)
}

/**
 * Runs fn on a node's root filesystem, attached on this host: qemu-storage-daemon exports the
 * clone as a file through FUSE (inside the cluster's namespace: it is a Ceph client), a loop
 * device, an ext4 mount. Read-only unless `write` (and then only while the node is down).
 * Everything is undone by PID and path, also when fn fails.
 */
export async function withRoot<T>(cluster: TestCluster, node: string, options: {write: boolean}, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-rbd-attach-'))
  const exported = path.join(dir, 'image')
  const mnt = path.join(dir, 'mnt')
  await fs.writeFile(exported, '')
  await fs.mkdir(mnt)
  let qsd: ResultPromise | undefined
  let loop: string | undefined
  let mounted = false
  try {
    const ro = options.write ? '' : ',read-only=on'
    const [cmd, args] = cluster.inNet('qemu-storage-daemon', [
      '--blockdev', `driver=rbd,pool=${POOL},namespace=${node},image=root,conf=${cluster.conf},user=admin,node-name=n0,cache.direct=on${ro}`,
      '--export', `type=fuse,id=e0,node-name=n0,mountpoint=${exported},writable=${options.write ? 'on' : 'off'}`,
    ])
    qsd = execa(cmd, args, {timeout: 600_000, reject: false, env: {CEPH_CONF: cluster.conf}})
    // The export replaces the empty file with the image (notes/ceph.md: a size-0 race otherwise).
    for (let i = 0; (await fs.stat(exported)).size === 0; i++) {
      if (i > 150 || qsd.exitCode !== null) throw new Error(`qemu-storage-daemon did not export ${node}'s root: ${(await qsd).stderr}`)
      await sleep(200)
    }
    loop = (await execa('losetup', ['-f', '--show', ...(options.write ? [] : ['-r']), exported])).stdout.trim()
    await execa('mount', ['-t', 'ext4', '-o', options.write ? 'rw' : 'ro,noload', loop, mnt])
    mounted = true
    return await fn(mnt)
  } finally {
    if (mounted) await execa('umount', [mnt])
    if (loop) await execa('losetup', ['-d', loop], {reject: false})
    if (qsd) {
      qsd.kill('SIGTERM')
      await Promise.race([qsd, sleep(15_000)])
      if (qsd.exitCode === null) qsd.kill('SIGKILL')
      await qsd
    }
    await fs.rm(dir, {recursive: true, force: true})
  }
}
