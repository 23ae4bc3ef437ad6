import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {runDoctor} from '../../src/services/doctor.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {FIXTURES, freshRootPerTest, seedSite, testContext} from '../support/tmp-root.js'

const tmp = freshRootPerTest()

describe('doctor with boot.transport http', () => {
  it('under --root: checks lighttpd is installed and lighttpd -tt accepts the drop-in on disk, but never touches the network', async () => {
    await seedSite(tmp.dir, {nodes: true, site: (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'boot: {transport: http}\n'})
    await applyBootConfig(testContext(tmp.dir))
    const real = execaRunner()
    const calls: string[] = []
    const recording: Runner = {run: (command, args, options) => (calls.push(command), real.run(command, args, options))}
    const checks = await runDoctor(testContext(tmp.dir, recording))
    expect(checks.find((c) => c.check === 'lighttpd config')).toMatchObject({status: 'ok'})
    expect(checks.find((c) => c.check === 'web server')).toMatchObject({status: 'skip', message: expect.stringMatching(/lighttpd is installed; --root is set/)})
    expect(checks.find((c) => c.check === 'boot files')).toMatchObject({status: 'ok'})
    expect(calls).not.toContain('curl')

    const withoutLighttpd: Runner = {run: (command, args, options = {}) => real.run(command, args, command === 'lighttpd' ? {...options, env: {...options.env, PATH: '/var/empty'}} : options)}
    const missing = await runDoctor(testContext(tmp.dir, withoutLighttpd))
    expect(missing.find((c) => c.check === 'web server')).toMatchObject({status: 'fail', fix: 'apt-get install lighttpd'})
  })

  it('with transport tftp: no web server line at all', async () => {
    await seedSite(tmp.dir, {nodes: true})
    const checks = await runDoctor(testContext(tmp.dir))
    expect(checks.map((c) => c.check)).not.toContain('web server')
    expect(checks.map((c) => c.check)).not.toContain('lighttpd config')
  })
})
