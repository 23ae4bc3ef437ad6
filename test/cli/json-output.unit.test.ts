/**
 * --json output is printed straight from JSON.stringify (issue 20: oclif's colouring cut the whole
 * text into tokens, ~60 ms of `nodes list --json` at 1,000 nodes), and is the text oclif printed.
 */
import {ux} from '@oclif/core'
import {afterEach, expect, it, vi} from 'vitest'

import {BaseCommand} from '../../src/cli/base-command.js'
import {PROJECT} from '../support/run-command.js'

const RESULT = {nodes: [{name: 'node01', ip: '10.0.0.1', mac: null, behind: 0, size: 1.5e9, flags: [true, false], note: '%s %d "quoted" \\ é \u2028 \n'}], empty: {}, none: []}

class Probe extends BaseCommand {
  static description = 'a command that returns RESULT'
  public async run(): Promise<typeof RESULT> {
    await this.parse(Probe)
    return RESULT
  }
}

afterEach(() => {
  vi.restoreAllMocks()
})

it('prints --json results as oclif did, without its colouring pass', async () => {
  const expected = ux.colorizeJson(RESULT, {pretty: true})
  const colorize = vi.spyOn(ux, 'colorizeJson')
  let stdout = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk)
    return true
  })
  await Probe.run(['--json'], PROJECT)
  vi.mocked(process.stdout.write).mockRestore()
  expect(colorize).not.toHaveBeenCalled()
  expect(stdout).toBe(`${expected}\n`)
})
