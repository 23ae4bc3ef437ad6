/**
 * `schedule set` refuses now what would fail at every run (issue 20): the site, the inventory,
 * the images, recipe and nodes the command names, another job taking the same lock at the same
 * minute; and it says what it checked and what only a run can find. Commands as their own parser
 * reads them (the CLI's parsers are exercised in schedule.test.ts).
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {PreconditionError, UserError} from '../../src/errors.js'
import {firstCommonMinute} from '../../src/schedule/cron-spec.js'
import {formatSchedule} from '../../src/schedule/format.js'
import {type ParsedCommand} from '../../src/schedule/preflight.js'
import {setSchedule, type SchedulableProgram} from '../../src/services/schedule-set.js'
import {fakeRunner} from '../support/fakes.js'
import {freshRootPerTest, seedSite, snapshotTree, testContext} from '../support/tmp-root.js'

/** The words of a few commands, as their parsers would hand them over. */
function parsed(id: string, words: readonly string[]): ParsedCommand {
  const flags: Record<string, unknown> = {}
  const positional: string[] = []
  for (let i = 0; i < words.length; i++) {
    if (words[i].startsWith('--')) {
      const name = words[i].slice(2)
      flags[name] = ['image', 'keep', 'method'].includes(name) ? words[++i] : true
    } else positional.push(words[i])
  }
  const names: Record<string, string[]> = {'image:update': ['name'], 'image:build': ['recipe'], 'nodes:rebase': ['node'], 'nodes:rm': ['name'], 'nodes:clone': ['count']}
  const args = Object.fromEntries((names[id] ?? []).map((n, i) => [n, positional[i]]))
  return {id, args, flags, argv: positional}
}

const PROGRAM: SchedulableProgram = {
  argv: ['/usr/bin/node', '/opt/pxeroot/bin/run.js'],
  commandIds: ['image:update', 'image:build', 'apply', 'nodes:prune', 'nodes:rebase', 'nodes:rm', 'nodes:clone', 'status', 'version'],
  parseArgs: async (id, argv) => parsed(id, argv),
}

const tmp = freshRootPerTest()
/** crontab -n accepts; nothing else runs. */
const ctx = () => testContext(tmp.dir, fakeRunner())
const refusal = (p: Promise<unknown>) => p.then(() => {
  throw new Error('accepted')
}, (e: Error) => e)

async function withImage(name: string, revision = 1): Promise<void> {
  await fs.mkdir(path.join(tmp.dir, `srv/pxeroot/images/${name}/${revision}/rootfs`), {recursive: true})
  await fs.symlink(String(revision), path.join(tmp.dir, `srv/pxeroot/images/${name}/current`)).catch(() => undefined)
}

describe('schedule set, before it writes the job', () => {
  it('refuses a command that needs the site when there is none (exit 3); version needs none', async () => {
    const e = await refusal(setSchedule(ctx(), '@daily', ['apply'], PROGRAM))
    expect(e).toBeInstanceOf(PreconditionError)
    expect(e.message).toBe('no site configuration at /etc/pxeroot/pxeroot.yaml')
    const ok = await setSchedule(ctx(), '@daily', ['version'], PROGRAM)
    expect(ok.checked.now).toEqual(['the command\'s arguments, as "pxeroot version" reads them', 'cron accepts the file'])
  })

  it('refuses a site or an inventory that does not parse, with its line, writing nothing', async () => {
    await seedSite(tmp.dir, {site: 'server: 192.168.0.10\nsubnet: [\n'})
    const before = await snapshotTree(tmp.dir)
    expect((await refusal(setSchedule(ctx(), '@daily', ['apply'], PROGRAM))).message).toMatch(/^\/etc\/pxeroot\/pxeroot\.yaml: line 3, column 1: not valid YAML: Flow sequence/)
    await seedSite(tmp.dir, {nodes: true})
    await fs.appendFile(path.join(tmp.dir, 'etc/pxeroot/nodes.yaml'), '  - {name: node01, ip: 192.168.0.209}\n')
    const broken = await refusal(setSchedule(ctx(), '@daily', ['apply'], PROGRAM))
    expect(broken).toBeInstanceOf(UserError)
    expect(broken.message).toMatch(/^\/etc\/pxeroot\/nodes\.yaml: node "node01" \(line \d+\): name node01 is already used/)
    // image build reads no inventory: not refused for it.
    await withImage('debian-bookworm')
    expect((await setSchedule(ctx(), '@weekly', ['image', 'build', 'debian-bookworm'], PROGRAM)).change).toBe('created')
    expect((await snapshotTree(tmp.dir)).has('etc/cron.d/pxeroot')).toBe(true)
    expect(before.has('etc/cron.d/pxeroot')).toBe(false)
  })

  it('refuses an image, revision, recipe or node that does not exist, naming it', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await withImage('lab')
    const cases: [string[], RegExp][] = [
      [['image', 'update', 'nosuch'], /^command: image: image "nosuch" has no revisions$/],
      [['nodes', 'rebase', '--all', '--image', 'lab@9'], /^command: image: there is no revision lab@9$/],
      [['nodes', 'clone', '3'], /^command: image: image "debian-bookworm" has no revisions$/],
      [['image', 'build', 'debian-bookwork'], /^unknown recipe "debian-bookwork"; use one of /],
      [['nodes', 'rebase', 'node01', 'node99', '--image', 'lab'], /^command: node99 is not in the inventory$/],
    ]
    for (const [words, message] of cases) expect((await refusal(setSchedule(ctx(), '@daily', words, PROGRAM))).message, words.join(' ')).toMatch(message)
    await expect(fs.stat(path.join(tmp.dir, 'etc/cron.d/pxeroot'))).rejects.toThrow()
  })

  it('says what it checked now and what only a run can find', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await withImage('lab', 3)
    const result = await setSchedule(ctx(), '0 3 * * 0', ['image', 'update', 'lab'], PROGRAM)
    expect(result.checked.now).toEqual([
      'the command\'s arguments, as "pxeroot image update" reads them',
      'the site file /etc/pxeroot/pxeroot.yaml',
      'the inventory /etc/pxeroot/nodes.yaml (3 nodes)',
      'image lab (now lab@3) exists',
      'no other scheduled job that takes the same lock starts at the same minute (within a year)',
      'cron accepts the file',
    ])
    expect(result.checked.atRunTime).toEqual([
      'that no other pxeroot run holds its lock when it starts (it would exit 5, busy; the log says so)',
      'the site file, the inventory and the images as they are then (a change in between is read then)',
      'the mirror and the network, and free space for the new revision',
      'the daemons\' own checkers on the files written then',
    ])
    expect(formatSchedule(result)).toMatch(/^checked now:\n {2}the command's arguments, [^]*\nchecked only when it runs:\n {2}that no other pxeroot run holds its lock/m)
    const rebase = await setSchedule(ctx(), '30 3 * * 0', ['nodes', 'rebase', 'node01', 'node02', '--image', 'lab'], PROGRAM)
    expect(rebase.checked.now).toContain('the nodes it names are in the inventory: node01, node02')
  })

  it('refuses a job that would take the same lock at the same minute as another, naming it and when; read-only jobs and other minutes are fine', async () => {
    await seedSite(tmp.dir, {nodes: true})
    await withImage('lab')
    await withImage('other')
    await setSchedule(ctx(), '@daily', ['apply'], PROGRAM)
    const clash = await refusal(setSchedule(ctx(), '0 0 * * 0', ['nodes', 'prune'], PROGRAM))
    expect(clash).toBeInstanceOf(UserError)
    expect(clash.message).toMatch(/^schedule: "0 0 \* \* 0" starts this job at the same minute as the scheduled "pxeroot apply" \("@daily"\), first at Sun .* 00:00: both take the lock of the site, so one of them would exit 5 \(busy\) then$/)
    expect((await setSchedule(ctx(), '5 0 * * 0', ['nodes', 'prune'], PROGRAM)).change).toBe('updated')
    expect((await setSchedule(ctx(), '@daily', ['status'], PROGRAM)).change).toBe('updated')
    expect((await setSchedule(ctx(), '@daily', ['apply', '--dry-run'], PROGRAM)).change).toBe('updated')
    // Images: --all meets any image job; two different images do not meet.
    await setSchedule(ctx(), '0 3 * * *', ['image', 'update', 'lab'], PROGRAM)
    expect((await setSchedule(ctx(), '0 3 * * *', ['image', 'update', 'other'], PROGRAM)).change).toBe('updated')
    expect((await refusal(setSchedule(ctx(), '0 3 * * 6', ['image', 'update', '--all'], PROGRAM))).message).toMatch(/same minute as the scheduled "pxeroot image update lab" .*both take the lock of image lab/)
    // Moving a job to a new time is not a clash with its own old time.
    expect((await setSchedule(ctx(), '0 0 * * *', ['apply'], PROGRAM)).change).toBe('updated')
  })
})

describe('cron times', () => {
  const from = new Date(2026, 11, 4, 16, 0)
  it('finds the first minute two schedules share, with cron\'s day-of-month-or-day-of-week rule', () => {
    expect(firstCommonMinute('@hourly', '0 3 * * 0', from)).toEqual(new Date(2026, 11, 6, 3, 0))
    expect(firstCommonMinute('*/15 * * * *', '30 2 * * *', from)).toEqual(new Date(2026, 11, 5, 2, 30))
    expect(firstCommonMinute('0 3 * * 0', '30 2 * * *', from)).toBeUndefined()
    // The 1st or a Monday, against Sundays: only a 1st that is a Sunday (August 2027).
    expect(firstCommonMinute('0 3 1 * mon', '0 3 * * 7', from)).toEqual(new Date(2027, 7, 1, 3, 0))
    expect(firstCommonMinute('@reboot', '@daily', from)).toBeUndefined()
  })
})
