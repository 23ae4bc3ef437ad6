import {promises as fs} from 'node:fs'
import {it} from 'vitest'

import Apply from '../../src/commands/apply.js'
import {STATE} from '../../src/system/paths.js'
import {removeGoldenRoot, runCommand} from '../support/golden.js'
import {bootInLab, cloneNodes, labGolden} from '../support/lab-run.js'

it('compares', async () => {
  const golden = await labGolden()
  await cloneNodes(golden, 1, {node01: '52:54:00:cc:00:01'})
  const file = golden.root.resolve(STATE.siteFile)
  const base = await fs.readFile(file, 'utf8')
  const rows: string[] = []
  for (let i = 0; i < 3; i++) {
    for (const transport of ['tftp', 'http']) {
      await fs.writeFile(file, `${base}boot:\n  transport: ${transport}\n`)
      const a = await runCommand(Apply, ['--root', golden.rootPrefix])
      if (a.code !== 0) throw a.error
      const r = await bootInLab(golden, ['node01'])
      const n = r.nodes[0]
      rows.push(`${i} ${transport} passed=${n.passed} kernel+initrd=${n.kernelInitrd?.seconds} login=${n.milestones.at(-1)?.seconds} load=${(await fs.readFile('/proc/loadavg', 'utf8')).split(' ')[0]}`)
      process.stderr.write(rows.at(-1) + '\n')
    }
  }
  process.stderr.write(rows.join('\n') + '\n')
  await removeGoldenRoot(golden)
}, 3_000_000)
