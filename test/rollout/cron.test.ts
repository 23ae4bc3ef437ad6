/**
 * The cron recipe: one schedule entry that updates every image and then rolls the nodes out
 * (`image update --all --then-rollout`), checked as the command parses it, and the chain run on a
 * site with nothing to update or move.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import ImageUpdate from '../../src/commands/image/update.js'
import ScheduleSet from '../../src/commands/schedule/set.js'
import {SCHEDULE_PATHS} from '../../src/schedule/schedule.js'
import {runCommand} from '../support/run-command.js'
import {seedSite, tmpRoot} from '../support/tmp-root.js'

describe('image update --then-rollout from cron', () => {
  let dir: string
  let cleanup: () => Promise<void>
  beforeEach(async () => {
    ;({dir, cleanup} = await tmpRoot('pxeroot-cron-rollout-'))
  })
  afterEach(async () => cleanup?.())

  it('is one schedule entry, parsed as image update parses it', async () => {
    await seedSite(dir)
    const set = await runCommand(ScheduleSet, ['0 3 * * 0', '--root', dir, '--', 'image', 'update', '--all', '--then-rollout'])
    expect(set.error?.message).toBeUndefined()
    expect(await fs.readFile(path.join(dir, SCHEDULE_PATHS.cronFile), 'utf8')).toContain(` image update --root ${dir} --all --then-rollout >>/var/log/pxeroot/cron.log 2>&1\n`)
    const typo = await runCommand(ScheduleSet, ['0 3 * * 0', '--root', dir, '--', 'image', 'update', '--all', '--then-rolout'])
    expect(typo.code).toBe(2)
    expect(typo.error?.message).toMatch(/then-rolout/)
  })

  it('updates, then rolls out: with nothing new and no node behind, both have nothing to do (exit 0)', async () => {
    await seedSite(dir)
    const r = await runCommand(ImageUpdate, ['--all', '--then-rollout', '--root', dir])
    expect(r.error?.message).toBeUndefined()
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('then: rollout --latest of every node')
    expect(r.result).toMatchObject({images: [], rollout: {nothing: 'no node to move'}})
    expect(await fs.readdir(path.join(dir, 'var/lib/pxeroot/rollouts')).catch(() => [])).toEqual([])
  })
})
