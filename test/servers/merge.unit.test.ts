/**
 * How a server's copy of the site state and the cluster's are brought into step, file by file
 * (config/cluster-store.ts: mergeStates): what changed on one side only moves to the other; what
 * changed on both sides differently is a conflict, never silently lost.
 */
import {describe, expect, it} from 'vitest'

import {joinBase, mergeStates, type StateEntry} from '../../src/config/cluster-store.js'

const t = (text: string): StateEntry => ({text})
const SITE = '/etc/pxeroot/pxeroot.yaml'
const NODES = '/etc/pxeroot/nodes.yaml'
const CURRENT = '/srv/pxeroot/images/debian-bookworm/current'

describe('merging this server\'s copy with the cluster\'s', () => {
  it('pushes what changed here, pulls what changed there, leaves what both agree on', () => {
    const base = {[SITE]: t('a'), [NODES]: t('n1'), [CURRENT]: {link: '1'}}
    const ours = new Map<string, StateEntry>([[SITE, t('a')], [NODES, t('n2')], [CURRENT, {link: '1'}]])
    const theirs = {[SITE]: t('b'), [NODES]: t('n1'), [CURRENT]: {link: '1'}, '/srv/pxeroot/images/debian-bookworm/2/manifest.json': t('{}')}
    const m = mergeStates(base, ours, theirs)
    expect([...m.push]).toEqual([[NODES, t('n2')]])
    expect([...m.pull]).toEqual([[SITE, t('b')], ['/srv/pxeroot/images/debian-bookworm/2/manifest.json', t('{}')]])
    expect(m.conflicts).toEqual([])
  })

  it('a removal is a change like any other; the same change on both sides is none', () => {
    const base = {[NODES]: t('n1'), [CURRENT]: {link: '1'}}
    const m = mergeStates(base, new Map([[NODES, t('n2')]]), {[NODES]: t('n2')})
    expect([...m.push, ...m.pull, ...m.conflicts]).toEqual([])
    const gone = mergeStates(base, new Map([[NODES, t('n1')]]), {[NODES]: t('n1'), [CURRENT]: {link: '1'}})
    expect([...gone.push]).toEqual([[CURRENT, undefined]])
  })

  it('a file changed on both sides differently is a conflict, and moves nowhere', () => {
    const m = mergeStates({[NODES]: t('n1')}, new Map([[NODES, t('mine')]]), {[NODES]: t('theirs')})
    expect(m.conflicts).toEqual([NODES])
    expect([...m.push, ...m.pull]).toEqual([])
  })

  it('a server that never synced (it joins) takes the cluster\'s files and offers only what the cluster lacks', () => {
    const ours = new Map([[SITE, t('local')], ['/x', t('only here')]])
    const theirs = {[SITE]: t('cluster')}
    const m = mergeStates(joinBase(ours, theirs), ours, theirs)
    expect(m.conflicts).toEqual([])
    expect([...m.pull]).toEqual([[SITE, t('cluster')]])
    expect([...m.push]).toEqual([['/x', t('only here')]])
  })
})
