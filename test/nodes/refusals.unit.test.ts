/**
 * Node commands that must refuse before anything is written (issue 9, items 8 and 10): a
 * revision that does not exist or whose boot files are not published, a rebase of nobody, and
 * a clone larger than the node range. The daemons' checkers are the fake runner's (they run for
 * real in test/apply/apply.test.ts).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import NodesRebase from '../../src/commands/nodes/rebase.js'
import {UserError} from '../../src/errors.js'
import {addNodeEntry} from '../../src/services/nodes-add.js'
import {cloneNodes} from '../../src/services/nodes-clone.js'
import {rebaseNodes} from '../../src/services/nodes-rebase.js'
import {setNodeEntry} from '../../src/services/nodes-set.js'
import {makeRevision, writeSite} from '../clone/helpers.js'
import {fakeRunner} from '../support/fakes.js'
import {runCommand} from '../support/run-command.js'
import {freshRootPerTest, snapshotTree, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()
/** dhcpd -t accepts; the isolated exportfs answers as it does for good exports. */
const ctx = () => testContext(tmp.dir, fakeRunner((call) => (call.command === 'unshare' ? {stdout: '--etab--\n'} : undefined)))

/** Revision lab@1 with a tiny root, and (when published) its kernel and initrd in the tftp root. */
async function labRevision(published: boolean): Promise<void> {
  await writeSite(tmp.dir)
  await makeRevision(tmp.dir, 'lab', 1, async (dir) => fs.writeFile(path.join(dir, 'hello'), 'hi\n'), false)
  if (!published) return
  const boot = path.join(tmp.dir, 'var/lib/tftpboot/pxeroot/lab/1')
  await fs.mkdir(boot, {recursive: true})
  for (const f of ['vmlinuz', 'initrd.img']) await fs.writeFile(path.join(boot, f), f)
}

async function refusedWithNothingChanged(run: () => Promise<unknown>, message: RegExp): Promise<void> {
  const before = await snapshotTree(tmp.dir)
  const error = await run().then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(UserError)
  expect((error as Error).message).toMatch(message)
  expect(await snapshotTree(tmp.dir)).toEqual(before)
}

describe('nodes add/set --image', () => {
  it('refuses a revision that does not exist, before writing anything', async () => {
    await labRevision(true)
    await refusedWithNothingChanged(() => addNodeEntry(ctx(), 'node01', {image: 'nosuch@99'}), /^--image: there is no revision nosuch@99$/)
    await refusedWithNothingChanged(() => addNodeEntry(ctx(), 'node01', {image: 'lab@2'}), /^--image: there is no revision lab@2$/)
  })

  it('refuses a revision whose kernel and initrd are not published, naming the missing file and the fix', async () => {
    await labRevision(false)
    await refusedWithNothingChanged(() => addNodeEntry(ctx(), 'node01', {image: 'lab@1'}),
      /^--image: lab@1 has no published boot files \(\/var\/lib\/tftpboot\/pxeroot\/lab\/1\/vmlinuz is missing\)$/)
  })

  it('accepts a published revision, and nodes set refuses a missing one the same way', async () => {
    await labRevision(true)
    const added = await addNodeEntry(ctx(), 'node01', {image: 'lab@1'})
    expect(added.inventory.nodes[0]).toMatchObject({name: 'node01', image: 'lab@1'})
    expect(await fs.readFile(path.join(tmp.dir, 'var/lib/tftpboot/pxelinux.cfg/C0A800C8'), 'utf8')).toContain('KERNEL pxeroot/lab/1/vmlinuz')
    await refusedWithNothingChanged(() => setNodeEntry(ctx(), 'node01', {image: 'lab@7'}), /^--image: there is no revision lab@7$/)
  })
})

describe('nodes rebase and clone refuse before creating anything', () => {
  it('rebase with no node and no --all exits 2 with one line', async () => {
    await labRevision(true)
    await refusedWithNothingChanged(() => rebaseNodes(ctx(), {nodes: [], image: 'lab'}), /name the nodes to rebase, or pass --all/)
    const r = await runCommand(NodesRebase, ['--image', 'lab', '--root', tmp.dir])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^pxeroot: name the nodes to rebase, or pass --all/)])
  })

  it('clone 500, more than the range holds, leaves no /srv/nodes and says nothing was created', async () => {
    await labRevision(true)
    await refusedWithNothingChanged(() => cloneNodes(ctx(), {count: 500}),
      /^nodes\.range 192\.168\.0\.200-192\.168\.0\.210 has no free address for 489 of the 500 new node\(s\) \(node12…\); nothing was created$/)
  })
})
