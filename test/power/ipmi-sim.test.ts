/**
 * `nodes set --bmc` and `nodes power` against real BMCs: OpenIPMI's ipmi_sim answering IPMI v2
 * over LAN inside a private network namespace, driven by the real ipmitool (run inside that
 * namespace, as `pxeroot lab session` runs pxeroot). Here the simulator powers a `sleep`; VMs
 * behind it, with the graceful power-off, are test/lab/rollout.test.ts. Needs root, ipmitool and
 * ipmi_sim (openipmi).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import NodesSet from '../../src/commands/nodes/set.js'
import {EMU_COMMANDS, ipmiSimArgs, renderLanConf} from '../../src/lab/bmc.js'
import {powerNodes, type PowerResult} from '../../src/services/nodes-power.js'
import {startDaemon, type Daemon} from '../../src/system/daemon.js'
import {createLabNamespace, labNamespaceName, type LabNamespace} from '../../src/system/netns.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {installed, isRoot, leftovers} from '../support/lab-run.js'
import {runCommand} from '../support/run-command.js'
import {seedSite, testContext, tmpRoot} from '../support/tmp-root.js'

const PASSWORD = 'Qv7-lab-Pw'
const BMC = {node01: '10.79.21.11', node02: '10.79.21.12', node03: '10.79.21.13'}

describe.skipIf(!isRoot)('nodes power through ipmitool against ipmi_sim', async () => {
  const tools = isRoot && await installed('ipmi_sim') && await installed('ipmitool')
  let dir = ''
  let cleanup = async () => {}
  let ns: LabNamespace | undefined
  const sims: Daemon[] = []
  /** pxeroot's runner as it is inside the lab's namespace: every program it runs, there. */
  let inLab: Runner

  beforeAll(async () => {
    if (!tools) return
    ({dir, cleanup} = await tmpRoot())
    await seedSite(dir, {nodes: true})
    ns = await createLabNamespace(execaRunner(), {name: labNamespaceName(), serverCidr: '192.168.0.10/24', runDir: dir})
    const real = execaRunner()
    inLab = {run: (command, args, options) => real.run(...ns!.inNet(command, args), options)}
    // The BMCs' network; node01's and node03's answer (node03's knows another password), nobody answers at node02's.
    await ns.addAddress('10.79.21.1/24')
    for (const [node, password] of [['node01', PASSWORD], ['node03', 'another-one']] as const) {
      await ns.addAddress(`${BMC[node]}/32`)
      const sub = path.join(dir, `bmc-${node}`)
      await fs.mkdir(path.join(sub, 'state'), {recursive: true})
      await fs.writeFile(path.join(sub, 'lan.conf'), renderLanConf({node, address: BMC[node], user: 'admin', password, vmPort: node === 'node01' ? 9101 : 9103, startCommand: '/bin/sleep 600'}), {mode: 0o600})
      await fs.writeFile(path.join(sub, 'emu.cmd'), EMU_COMMANDS)
      const [cmd, args] = ns.inNet('ipmi_sim', ipmiSimArgs({lanConf: path.join(sub, 'lan.conf'), emuCmd: path.join(sub, 'emu.cmd'), stateDir: path.join(sub, 'state')}))
      sims.push(startDaemon(real, {name: `ipmi_sim ${node}`, command: cmd, args, log: path.join(sub, 'sim.log'), timeoutMs: 600_000, run: ns.name}))
    }
    await sleep(1000)
  }, 60_000)

  afterAll(async () => {
    await Promise.all(sims.map((s) => s.stop()))
    await ns?.destroy()
    await cleanup()
  })

  it.skipIf(!tools)('nodes set keeps the password in a root-only file, never in the inventory, the diff or --json', async () => {
    const file = path.join(dir, 'password')
    await fs.writeFile(file, `${PASSWORD}\n`)
    const dry = await runCommand(NodesSet, ['node01', '--bmc', BMC.node01, '--bmc-user', 'admin', '--bmc-cipher', '3', '--bmc-password-file', file, '--dry-run', '--root', dir])
    expect(dry.code, dry.error?.message).toBe(0)
    expect(JSON.stringify(dry.result)).toContain(`+    bmc:`)
    expect(JSON.stringify(dry.result) + dry.stderr).not.toContain(PASSWORD)
    await expect(fs.stat(path.join(dir, 'etc/pxeroot/bmc-secrets'))).rejects.toThrow()

    for (const [node, address] of Object.entries(BMC)) {
      const r = await runCommand(NodesSet, [node, '--bmc', address, '--bmc-user', 'admin', '--bmc-cipher', '3', '--bmc-password-file', file, '--json', '--root', dir])
      expect(r.code, r.error?.message).toBe(0)
      expect(JSON.stringify(r.result) + r.stderr).not.toContain(PASSWORD)
    }
    const inventory = await fs.readFile(path.join(dir, 'etc/pxeroot/nodes.yaml'), 'utf8')
    expect(inventory).toContain(`bmc:\n      driver: ipmi\n      address: ${BMC.node01}\n      user: admin\n      cipher: 3\n`)
    expect(inventory).not.toContain(PASSWORD)
    const secrets = path.join(dir, 'etc/pxeroot/bmc-secrets')
    expect((await fs.stat(secrets)).mode & 0o777).toBe(0o600)
    expect((await fs.readFile(secrets, 'utf8')).split('\n').filter((l) => l.startsWith('node'))).toEqual([`node01 ${PASSWORD}`, `node02 ${PASSWORD}`, `node03 ${PASSWORD}`])
  })

  it.skipIf(!tools)('status, on and off through ipmitool, with the password in no command line a user can read', async () => {
    const ctx = testContext(dir, inLab)
    const ask = async (verb: 'status' | 'on' | 'off') => (await powerNodes(ctx, {nodes: ['node01'], verb, timeout: 20})).nodes[0]
    expect(await ask('status')).toMatchObject({name: 'node01', power: 'off', ok: true})
    expect(await ask('on')).toMatchObject({power: 'on', ok: true, message: 'powered on'})
    expect(await ask('status')).toMatchObject({power: 'on'})
    expect(await ask('on')).toMatchObject({power: 'on', ok: true, message: 'already on'})
    expect(await ask('off')).toMatchObject({power: 'off', ok: true, message: 'powered off'})

    // A real ipmitool run, seen from outside while it waits for a BMC that does not answer.
    const run = powerNodes(ctx, {nodes: ['node02'], verb: 'status', timeout: 20}).catch((e: Error) => e)
    let seen: {cmdline: string, environMode: number} | undefined
    for (let i = 0; i < 50 && !seen; i++) {
      await sleep(100)
      for (const pid of await fs.readdir('/proc')) {
        const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '')).split('\0').join(' ')
        if (cmdline.startsWith('ipmitool ') && cmdline.includes(BMC.node02)) seen = {cmdline, environMode: (await fs.stat(`/proc/${pid}/environ`)).mode & 0o777}
      }
    }
    expect(seen?.cmdline).toMatch(/^ipmitool -I lanplus -H 10\.79\.21\.12 -U admin -E -C 3 /)
    expect(seen?.cmdline).not.toContain(PASSWORD)
    // Its environment, which carries the password, is its owner's alone.
    expect(seen?.environMode).toBe(0o400)
    const error = await run
    expect((error as {result?: PowerResult}).result?.nodes[0]).toMatchObject({name: 'node02', power: null, ok: false})
    expect((error as Error).message).toMatch(/node02 \(the BMC at 10\.79\.21\.12 does not answer IPMI over LAN/)
  }, 60_000)

  it.skipIf(!tools)('a wrong password and an unreachable BMC each get one line; the others are done', async () => {
    const r = await powerNodes(testContext(dir, inLab), {nodes: ['node01..node03'], verb: 'status', timeout: 20}).catch((e: Error & {result: PowerResult, exitCode: number}) => e)
    expect(r).toMatchObject({exitCode: 4})
    const result = (r as {result: PowerResult}).result
    expect(result.nodes.map((n) => [n.name, n.power, n.ok])).toEqual([['node01', 'off', true], ['node02', null, false], ['node03', null, false]])
    expect(result.nodes[2].message).toBe(`the BMC at ${BMC.node03} refused user "admin" or its password`)
    expect(JSON.stringify(result)).not.toContain(PASSWORD)
  }, 60_000)

  it.skipIf(!tools)('leaves nothing running', async () => {
    await Promise.all(sims.map((s) => s.stop()))
    await ns?.destroy()
    expect(await leftovers()).toEqual({namespaces: [], mounts: [], processes: []})
    expect((await execa('ps', ['-eo', 'args'])).stdout).not.toMatch(new RegExp(`ipmi_sim -c ${dir}`))
  }, 60_000)
})
