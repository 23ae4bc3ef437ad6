/**
 * The quick check compiled from a zod schema (issue 20: zod's own parse of 1,000 nodes was ~20 ms
 * of every `nodes list`). A yes must be zod's yes with the value unchanged; anything else is left
 * to zod, which fills in defaults or says what is wrong.
 */
import {describe, expect, it} from 'vitest'
import {z, type ZodTypeAny} from 'zod'

import {quickCheck} from '../../src/config/schema-check.js'
import {SiteSchema} from '../../src/config/site.js'
import {BmcSchema, InventorySchema} from '../../src/inventory/inventory.js'

/** Every value the quick check passes, zod passes too and gives back equal. */
function agrees(schema: ZodTypeAny, values: unknown[]): void {
  for (const value of values) {
    if (!quickCheck(schema)(value)) continue
    const parsed = schema.safeParse(value)
    expect(parsed.success, JSON.stringify(value)).toBe(true)
    expect(parsed.data, JSON.stringify(value)).toEqual(value)
  }
}

const node = {name: 'node00001', ip: '10.20.1.0', mac: '52:54:00:00:00:00', image: 'debian-bookworm@1', clone: {method: 'rsync', machineId: '0123456789abcdef0123456789abcdef'}}

describe('the quick check of a zod schema', () => {
  it('passes the inventory as pxeroot writes it, so zod is not asked at every read', () => {
    const inventory = {nodes: [node, {name: 'node00002', ip: '10.20.1.1', kernelArgs: 'quiet', server: 'boot1', bmc: {driver: 'ipmi', address: '10.0.1.1', user: 'admin', cipher: 3}}]}
    expect(quickCheck(InventorySchema)(inventory)).toBe(true)
    agrees(InventorySchema, [inventory])
  })

  it('leaves to zod every inventory it would refuse or change', () => {
    const variants: unknown[] = [
      {nodes: [{...node, mca: 'x'}]}, {nodes: [{...node, ip: '10.20.1.256'}]}, {nodes: [{...node, ip: '010.20.1.1'}]}, {nodes: [{...node, image: 'debian'}]},
      {nodes: [{...node, name: 7}]}, {nodes: [{...node, kernelArgs: 'a\nb'}]}, {nodes: [{...node, bmc: {address: '10.0.1.1', user: 'admin'}}]},
      {nodes: [{...node, bmc: {driver: 'wol', address: '10.0.1.1', user: 'admin'}}]}, {nodes: [{...node, bmc: {driver: 'ipmi', address: '10.0.1.1', user: 'admin', password: 's'}}]},
      {nodes: [{...node, bmc: {driver: 'ipmi', address: '10.0.1.1', user: 'admin', cipher: 1.5}}]}, {nodes: [{...node, bmc: {driver: 'ipmi', address: '10.0.1.1', user: 'admin', cipher: 18}}]},
      {nodes: [{...node, bmc: {driver: 'ipmi', address: '10.0.1.1', user: 'admin', cipher: Number.NaN}}]},
      {}, null, [], {nodes: {}}, {nodes: [null]}, {nodes: [[]]}, {nodes: [node], extra: 1}, {nodes: [Object.assign(Object.create({inherited: 1}), node)]},
    ]
    for (const value of variants) expect(quickCheck(InventorySchema)(value), JSON.stringify(value)).toBe(false)
    agrees(InventorySchema, variants)
  })

  it('agrees with zod on BMCs and site files, and says no to what it cannot tell', () => {
    agrees(BmcSchema, [{driver: 'redfish', address: 'bmc.example.com:443', user: 'a', system: '/redfish/v1/Systems/1', ca: '/etc/ca.pem', insecure: false}, {driver: 'ipmi', address: 'x y', user: 'a'}])
    // Defaults everywhere: a site file is zod's.
    expect(quickCheck(SiteSchema)({server: '10.0.0.1', subnet: '10.0.0.0/24', nodes: {range: '10.0.0.10-10.0.0.20'}})).toBe(false)
    const unknown: [ZodTypeAny, unknown][] = [
      [z.string().transform((s) => s.trim()), 'x'], [z.union([z.string(), z.number()]), 'x'], [z.record(z.string()), {a: 'x'}], [z.string().email(), 'a@b.c'],
      [z.coerce.number(), 1], [z.object({a: z.string()}), {a: 'x', b: 1}], [z.object({a: z.string()}).catchall(z.number()), {a: 'x', b: 1}], [z.string().refine(async () => true), 'x'],
    ]
    for (const [schema, value] of unknown) expect(quickCheck(schema)(value), String(schema._def.typeName)).toBe(false)
    expect(quickCheck(z.object({a: z.string()}).passthrough())({a: 'x', b: 1})).toBe(true)
    expect(quickCheck(z.string().superRefine((s, ctx) => {
      if (s !== 'ok') ctx.addIssue({code: 'custom', message: 'no'})
    }))('nope')).toBe(false)
  })
})
