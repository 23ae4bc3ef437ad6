/**
 * The throwaway cluster of `pxeroot lab ceph`: its ceph.conf, address and namespace name (pure).
 */
import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {cephLabLayout, cephLabNamespace, renderCephConf} from '../../src/lab/ceph-conf.js'
import {cephLabAddress} from '../../src/lab/ceph.js'
import {goldenSiteText} from '../support/golden.js'

describe('the cluster\'s configuration and address', () => {
  it('renders a ceph.conf for one OSD with every path under the state directory and the address it listens on', () => {
    const layout = cephLabLayout('/var/tmp/c')
    const conf = renderCephConf({fsid: 'f00', address: '10.77.0.253', layout, osdGiB: 20})
    expect(conf).toContain('mon_host = v2:10.77.0.253:3300,v1:10.77.0.253:6789\n')
    expect(conf).toContain('public_addr = 10.77.0.253\n')
    expect(conf).toContain('bluestore_block_size = 21474836480\n')
    // HEALTH_OK with one OSD and size-1 pools (notes/ceph.md).
    for (const line of ['osd_pool_default_size = 1', 'mon_allow_pool_size_one = true', 'mon_warn_on_pool_no_redundancy = false', 'osd_crush_chooseleaf_type = 0', 'auth_allow_insecure_global_id_reclaim = false']) expect(conf).toContain(`${line}\n`)
    // A second client must not collide on the admin socket.
    expect(conf).toContain('admin_socket = /var/tmp/c/run/$cluster-$name.$pid.asok\n')
    const paths = [...conf.matchAll(/= (\/\S+)/g)].map((m) => m[1])
    expect(paths.length).toBeGreaterThan(5)
    expect(paths.filter((p) => !p.startsWith('/var/tmp/c/'))).toEqual([])
  })

  it('takes the highest free address of the site\'s subnet: not the server\'s, the router\'s, a node\'s or the lab\'s stand-in DHCP server\'s', () => {
    expect(cephLabAddress(parseSite(goldenSiteText()))).toBe('10.77.0.253/24')
    const site = parseSite('server: 192.168.0.10\nsubnet: 192.168.0.0/24\nrouter: 192.168.0.254\nnodes:\n  range: 192.168.0.200-192.168.0.253\n')
    // .254 is the router (and where the stand-in would sit), .200-.253 nodes.
    expect(cephLabAddress(site)).toBe('192.168.0.199/24')
  })

  it('names the namespace after the state directory, so start, stop and status find it', () => {
    expect(cephLabNamespace('/var/tmp/c')).toBe(cephLabNamespace('/var/tmp/c/'))
    expect(cephLabNamespace('/var/tmp/c')).not.toBe(cephLabNamespace('/var/tmp/d'))
    expect(cephLabNamespace('/var/tmp/c')).toMatch(/^pxeroot-ceph-[0-9a-f]{8}$/)
  })
})

