/**
 * The failover lab's readings (lab/pair.ts): a writer's acknowledgements on a node's console,
 * and the address the lab keeps for itself once the primary's is gone.
 */
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {observerAddress, writesIn} from '../../src/lab/pair.js'

describe('the failover lab', () => {
  it('reads the writer\'s lines among the console\'s others, in order', () => {
    const console = 'Debian GNU/Linux 12 node03 ttyS0\npxeroot-lab: write 1 synced at 1700000000\n[  41.2] nfs: server 10.77.0.1 not responding, still trying\npxeroot-lab: write 2 synced at 1700000070\n'
    expect(writesIn(console)).toEqual([{n: 1, at: 1_700_000_000}, {n: 2, at: 1_700_000_070}])
  })

  it('keeps an address no server, node, pool or router has', () => {
    const site = parseSite('servers:\n  - {name: boot1, address: 10.77.0.1}\n  - {name: boot2, address: 10.77.0.254}\nsubnet: 10.77.0.0/24\nrouter: 10.77.0.253\nnodes: {range: 10.77.0.100-10.77.0.150}\npool: 10.77.0.240-10.77.0.250\n')
    expect(observerAddress(site)).toBe('10.77.0.252')
  })
})
