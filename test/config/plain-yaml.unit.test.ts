/**
 * The plain-YAML reader (issue 20: `nodes list` and `status` read the site file, and a hand-edited
 * inventory, without loading the yaml library). Whatever it reads it must read as `YAML.parse`
 * does; whatever it cannot, it leaves to the library (undefined), which also says where a broken
 * file is broken.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import {describe, expect, it} from 'vitest'

import {plainYaml} from '../../src/config/plain-yaml.js'
import {parseSite} from '../../src/config/site-file.js'
import {siteFields, SiteSchema} from '../../src/config/site.js'
import {serializeInventory} from '../../src/inventory/inventory.js'
import {renderSiteFile} from '../../src/render/site-file.js'
import {seedServersSiteText, seedSiteText} from '../support/seed-model.js'
import {FIXTURES} from '../support/tmp-root.js'

/** The library's reading of `text`, or its first error. */
function library(text: string): unknown {
  const doc = YAML.parseDocument(text)
  if (doc.errors.length > 0) return `error: ${doc.errors[0].message}`
  if (doc.warnings.length > 0) return `warning: ${doc.warnings[0].message}`
  return doc.toJS()
}

describe('the plain YAML reader', () => {
  it('reads the site files init writes, the inventory pxeroot writes and the fixtures as the library does', async () => {
    const texts = [
      renderSiteFile(SiteSchema.parse({server: '192.168.0.10', subnet: '192.168.0.0/24', router: '192.168.0.1', dns: ['8.8.8.8', '1.1.1.1'], domain: 'exemplo.com',
        nodes: {range: '192.168.0.200-192.168.0.210'}, pool: '192.168.0.220-192.168.0.240', backends: {nfs: 'ganesha'}, boot: {kernelArgs: 'console=ttyS0,115200 "x"'},
        exports: [{path: '/data', clients: '192.168.0.0/24', options: 'rw,sync'}]})),
      renderSiteFile(siteFields(parseSite(await seedServersSiteText('backends: {dhcp: kea}\ndhcp: {interface: eth0, ha: {mode: load-balancing, port: 8002}}\n',
        '  - {name: boot1, address: 192.168.0.10, interface: br0}\n  - {name: boot2, address: 192.168.0.11, haAddress: 10.9.0.2}\n')))),
      await seedSiteText(),
      serializeInventory({nodes: [
        {name: 'node02', ip: '192.168.0.201', kernelArgs: 'console=ttyS0,115200 quiet "x" a: b #c', server: 'boot1'},
        {name: 'node01', ip: '192.168.0.200', mac: '52:54:00:12:34:56', image: 'lab@3', bmc: {driver: 'redfish', address: 'bmc1.example.com:8443', user: 'admin', system: '/redfish/v1/Systems/1', insecure: true},
          clone: {method: 'btrfs', machineId: '0123456789abcdef0123456789abcdef', previous: {image: 'lab@2', method: 'btrfs'}}},
        {name: 'node03', ip: '192.168.0.203', bmc: {driver: 'ipmi', address: '10.0.1.103', user: 'root', cipher: 17}, clone: {method: 'rsync', machineId: '00000000000000000000000000000123'}},
      ]}),
      // bench/list.ts's site file.
      'server: 10.20.0.1\nsubnet: 10.20.0.0/16\nnodes: {range: 10.20.1.0-10.20.200.255, width: 5}\n',
      ...await Promise.all((await fs.readdir(FIXTURES)).filter((f) => f.endsWith('.yaml')).map((f) => fs.readFile(path.join(FIXTURES, f), 'utf8'))),
    ]
    for (const text of texts) {
      const data = plainYaml(text)
      expect(data, text).toBeDefined()
      expect(data, text).toEqual(library(text))
    }
  })

  it('leaves to the library what it does not read', () => {
    const outside = [
      'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: >\n  text\n', 'a: 1.5\n', 'a: 0x1f\n', 'a: 010\n', 'a: .inf\n', 'a: 1e3\n',
      'a: 1\na: 2\n', '---\na: 1\n', 'a: 1\n---\nb: 2\n', '"a": 1\n', 'a b: 1\n', 'a:\tb\n', 'a: 1\r\n', 'a: long\n  continued\n',
      'a: [1, 2,]\n', 'a: [1,\n  2]\n', 'a: "multi\n  line"\n', '- a\n- b\n', '  a: 1\n', 'a:\n  - b\n c: 1\n', 'a: b: c\n', 'a: {b:c}\n',
      '? a\n: b\n', 'null: 1\n', 'a: "\\x41"\n', '', '# only a comment\n',
    ]
    for (const text of outside) expect(plainYaml(text), JSON.stringify(text)).toBeUndefined()
  })

  it('agrees with the library on every document it reads (seeded random documents)', () => {
    let seed = 20
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]
    const scalars = ['a', 'node01', '10.0.0.1', '10.0.0.0/24', '1', '0', '-1', '-0', '010', '+1', '0x1f', '0o17', '1e3', '.5', '1.', '1.5', '.inf', '.nan', 'true', 'True', 'TRUE',
      'tRue', 'false', 'no', 'yes', 'null', 'Null', 'NULL', '~', '~x', '"q"', '"a\\"b"', '"\\x41"', '"\\u00e9"', '"a #b"', '\'it\'\'s\'', '\'a\\b\'', 'o\'brien', 'a #c', 'a#b',
      'a: b', 'a:b', 'a:', ':a', '-a', '- a', '?a', '? a', '&a x', '*a', '!t x', '|', '>', '@x', '`x', '%x', '[a, b]', '[]', '{}', '{a: 1}', '{a: 1, b: [x, y]}', '[a, b,]',
      '[a b, c]', '[a[1]]', '{a:1}', '{"a": 1}', '[a: b]', '52:54:00:aa:bb:cc', 'http://x/y', 'console=ttyS0,115200 quiet', 'a  b', 'é', '#x', '', '"unterminated', '\'x',
      '[a, b', '{a: [1, 2]} # c', '"x" # c', '"x"y', '1_000', '2001-01-01', '12:30:00', '---', '=x', 'a,b', 'a]', 'a}']
    const keys = ['a', 'b', 'name', 'ip', 'null', 'True', 'y', '_k', 'k-1', '1a', '"q"', 'a b', 'a.b', '__proto__', 'constructor', '<<']
    const block = (depth: number, indent: number): string[] => {
      const lines: string[] = []
      const sequence = depth > 0 && random() < 0.3
      const pad = ' '.repeat(indent)
      for (let i = 0, n = 1 + Math.floor(random() * 3); i < n; i++) {
        const r = random()
        if (sequence && r < 0.5) lines.push(`${pad}- ${pick(scalars)}`)
        else if (sequence && r < 0.8 && depth < 3) {
          const inner = block(depth + 1, indent + 2)
          lines.push(`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1))
        } else if (sequence) lines.push(`${pad}-`)
        else if (r < 0.6) lines.push(`${pad}${pick(keys)}: ${pick(scalars)}`)
        else if (r < 0.9 && depth < 3) lines.push(`${pad}${pick(keys)}:`, ...block(depth + 1, indent + pick([2, 2, 4, 0, 1])))
        else lines.push(`${pad}${pick(keys)}:`)
        if (random() < 0.1) lines.push(pick(['# c', '  # c', '', '   ', `${pad}x`, '\t', '---', 'k: v']))
      }
      return lines
    }
    let read = 0
    const disagreements: string[] = []
    for (let i = 0; i < 4000; i++) {
      const text = block(0, 0).join('\n') + (random() < 0.8 ? '\n' : '')
      const data = plainYaml(text)
      if (data === undefined) continue
      read++
      const theirs = library(text)
      if (JSON.stringify(data) !== JSON.stringify(theirs)) disagreements.push(`${JSON.stringify(text)}: ${JSON.stringify(data)} against ${JSON.stringify(theirs)}`)
    }
    expect(disagreements).toEqual([])
    // Enough of them read for the comparison to mean something.
    expect(read).toBeGreaterThan(300)
  })
})
