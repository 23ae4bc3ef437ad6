import {promises as fs} from 'node:fs'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import ScheduleSet from '../../src/commands/schedule/set.js'
import ScheduleShow from '../../src/commands/schedule/show.js'
import {commandLength, SCHEDULE_PATHS, type PxerootProgram} from '../../src/schedule/schedule.js'
import {removeSchedule} from '../../src/services/schedule-rm.js'
import {setSchedule} from '../../src/services/schedule-set.js'
import {showSchedule} from '../../src/services/schedule-show.js'
import {runCommand} from '../support/run-command.js'
import {seedSite, snapshotTree, testContext, tmpRoot} from '../support/tmp-root.js'

const PROGRAM: PxerootProgram = {
  argv: ['/usr/bin/node', '/opt/pxeroot/bin/run.js'],
  commandIds: ['image:update', 'image:exec', 'image:build', 'apply', 'schedule:set', 'version'],
}

describe('pxeroot schedule', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const cronFile = () => path.join(dir, SCHEDULE_PATHS.cronFile)

  beforeEach(async () => {
    ;({dir, cleanup} = await tmpRoot('pxeroot-schedule-'))
    // The scheduled commands need a site (schedule set checks it); image exec names image lab.
    await seedSite(dir)
    await fs.mkdir(path.join(dir, 'srv/pxeroot/images/lab/1/rootfs'), {recursive: true})
    await fs.symlink('1', path.join(dir, 'srv/pxeroot/images/lab/current'))
  })
  afterEach(async () => cleanup?.())

  it('set writes an owned, root-owned 0644 cron.d file with --root, a sane PATH and the log, and makes the log dir', async () => {
    const ctx = testContext(dir)
    const s = await setSchedule(ctx, '0 3 * * 0', ['image', 'update', '--all'], PROGRAM)
    expect(s.change).toBe('created')
    const st = await fs.stat(cronFile())
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o644, 0, 0])
    const text = await fs.readFile(cronFile(), 'utf8')
    expect(text).toContain('SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n')
    expect(text).toContain(`0 3 * * 0 root /usr/bin/node /opt/pxeroot/bin/run.js image update --root ${dir} --all >>/var/log/pxeroot/cron.log 2>&1\n`)
    expect((await fs.stat(path.join(dir, 'var/log/pxeroot'))).isDirectory()).toBe(true)
    // No temp files left in cron.d: cron would read them as jobs.
    expect(await fs.readdir(path.dirname(cronFile()))).toEqual(['pxeroot'])
  })

  it('moves an already scheduled command to the new time, keeps others, and reports no change when nothing changes', async () => {
    const ctx = testContext(dir)
    await setSchedule(ctx, '0 3 * * 0', ['image', 'update', '--all'], PROGRAM)
    await setSchedule(ctx, '@hourly', ['apply'], PROGRAM)
    const moved = await setSchedule(ctx, '30 2 * * *', ['image', 'update', '--all'], PROGRAM)
    expect(moved.change).toBe('updated')
    expect(moved.jobs.map((j) => [j.schedule, j.args.join(' ')])).toEqual([['30 2 * * *', 'image update --all'], ['@hourly', 'apply']])
    const before = await fs.stat(cronFile())
    expect((await setSchedule(ctx, '30  2 * * *', ['image', 'update', '--all'], PROGRAM)).change).toBe('unchanged')
    expect((await fs.stat(cronFile())).ino).toBe(before.ino)
    const shown = await showSchedule(ctx, PROGRAM)
    expect(shown.jobs).toHaveLength(2)
    expect(shown.jobs[1].line).toMatch(/^@hourly root \S+ \S+ apply --root \S+ >>/)
  })

  it('rm removes one job, then the whole file; removing nothing is not an error', async () => {
    const ctx = testContext(dir)
    await setSchedule(ctx, '0 3 * * 0', ['image', 'update', '--all'], PROGRAM)
    await setSchedule(ctx, '@hourly', ['apply'], PROGRAM)
    expect((await removeSchedule(ctx, ['apply'], PROGRAM)).jobs).toHaveLength(1)
    await expect(removeSchedule(ctx, ['apply'], PROGRAM)).rejects.toThrow(/"apply" is not scheduled/)
    expect((await removeSchedule(ctx, [], PROGRAM)).jobs).toEqual([])
    await expect(fs.stat(cronFile())).rejects.toThrow()
    expect((await removeSchedule(ctx, [], PROGRAM)).change).toBe('unchanged')
    expect((await showSchedule(ctx)).jobs).toEqual([])
  })

  it('refuses bad schedules and non-pxeroot commands, writing nothing', async () => {
    const ctx = testContext(dir)
    const before = await snapshotTree(dir)
    await expect(setSchedule(ctx, '0 3 * * 8', ['apply'], PROGRAM)).rejects.toThrow(/schedule: day of week "8" is out of range 0-7/)
    await expect(setSchedule(ctx, '0 3 * * 0', ['rm', '-rf', '/'], PROGRAM)).rejects.toThrow(/command: "rm -rf \/" is not a pxeroot command/)
    await expect(setSchedule(ctx, '0 3 * * 0', [], PROGRAM)).rejects.toThrow(/command: missing/)
    await expect(setSchedule(ctx, '0 3 * * 0', ['schedule', 'set', 'x'], PROGRAM)).rejects.toThrow(/cannot be scheduled/)
    await expect(setSchedule(ctx, '0 3 * * 0', ['apply', '--root', '/x'], PROGRAM)).rejects.toThrow(/do not pass --root/)
    await expect(setSchedule(ctx, '0 3 * * 0', ['apply', 'a\nb'], PROGRAM)).rejects.toThrow(/line breaks/)
    expect(await snapshotTree(dir)).toEqual(before)
  })

  it('never replaces a cron file someone else wrote', async () => {
    await fs.mkdir(path.dirname(cronFile()), {recursive: true})
    await fs.writeFile(cronFile(), '0 1 * * * root /usr/local/bin/backup\n')
    const ctx = testContext(dir)
    await expect(setSchedule(ctx, '@daily', ['apply'], PROGRAM)).rejects.toThrow(/not written by pxeroot/)
    await expect(removeSchedule(ctx, [], PROGRAM)).rejects.toThrow(/not written by pxeroot/)
    expect(await fs.readFile(cronFile(), 'utf8')).toBe('0 1 * * * root /usr/local/bin/backup\n')
  })

  it('finds the command id in the arguments', () => {
    expect(commandLength(PROGRAM.commandIds, ['image', 'update', '--all'])).toBe(2)
    expect(commandLength(PROGRAM.commandIds, ['apply', '--dry-run'])).toBe(1)
    expect(commandLength(PROGRAM.commandIds, ['image', 'exec', 'lab', '--', 'apply'])).toBe(2)
    expect(commandLength(PROGRAM.commandIds, ['image'])).toBe(0)
    expect(commandLength(PROGRAM.commandIds, ['--all', 'apply'])).toBe(0)
  })

  it('set checks the scheduled arguments as the command itself would, naming the flag, and writes nothing', async () => {
    const refused: [string[], RegExp][] = [
      [['image', 'update', '--all', '--bogus'], /^command: image update: unknown flag --bogus \(see "pxeroot image update --help"\)$/],
      [['image', 'update', '--al'], /^command: image update: unknown flag --al; did you mean --all\?/],
      [['nodes', 'clone', '0'], /^command: nodes clone: Expected an integer greater than or equal to 1 but received: 0/],
      [['nodes', 'clone', '3', '--method', 'tarball'], /^command: nodes clone: Expected --method=tarball to be one of: btrfs, reflink, copy, rsync/],
      [['apply', 'now'], /^command: apply: unexpected argument now/],
      [['nodes', 'add'], /^command: nodes add: missing argument NAME/],
    ]
    const before = await snapshotTree(dir)
    for (const [command, message] of refused) {
      const r = await runCommand(ScheduleSet, ['0 3 * * 0', '--root', dir, '--', ...command])
      expect([r.code, r.stderr.trim().split('\n')], command.join(' ')).toEqual([2, [expect.stringMatching(/^pxeroot: /)]])
      expect(r.error?.message, command.join(' ')).toMatch(message)
    }
    expect(await snapshotTree(dir)).toEqual(before)
    // A command with its own "--" keeps its words in order.
    const ok = await runCommand(ScheduleSet, ['0 3 * * 0', '--root', dir, '--', 'image', 'exec', 'lab', '--', 'apt-get', '-y', 'autoremove'])
    expect(ok.error?.message).toBeUndefined()
    expect(await fs.readFile(cronFile(), 'utf8')).toContain(` image exec --root ${dir} lab -- apt-get -y autoremove >>`)
  })

  it('the commands: set runs this pxeroot by absolute paths; show --json lists it', async () => {
    const set = await runCommand(ScheduleSet, ['@weekly', '--root', dir, '--', 'version'])
    expect(set.error?.message).toBeUndefined()
    const text = await fs.readFile(cronFile(), 'utf8')
    expect(text).toContain(`@weekly root ${process.execPath} ${path.resolve(import.meta.dirname, '../../bin/run.js')} version --root ${dir} >>`)
    const show = await runCommand(ScheduleShow, ['--root', dir, '--json'])
    expect(show.result).toMatchObject({file: '/etc/cron.d/pxeroot', logFile: '/var/log/pxeroot/cron.log', jobs: [{schedule: '@weekly', args: ['version']}]})
    const bad = await runCommand(ScheduleSet, ['0 3 * *', '--root', dir, '--', 'version'])
    expect(bad.code).toBe(2)
    expect(bad.error?.message).toMatch(/schedule: "0 3 \* \*" has 4 fields, cron needs 5/)
  })

  it('set, with the commands\' own parsers, refuses what each run would meet and says what it checked', async () => {
    const missing = await runCommand(ScheduleSet, ['0 4 * * 0', '--root', dir, '--', 'nodes', 'rebase', '--all', '--image', 'lab@7'])
    expect([missing.code, missing.error?.message]).toEqual([2, 'command: image: there is no revision lab@7 (see "pxeroot image list")'])
    const unknownNode = await runCommand(ScheduleSet, ['0 4 * * 0', '--root', dir, '--', 'lab', 'boot', 'node42'])
    expect([unknownNode.code, unknownNode.error?.message]).toEqual([2, 'command: node42 is not in the inventory (see "pxeroot nodes list"; schedule nodes that exist)'])
    await expect(fs.stat(cronFile())).rejects.toThrow()
    const ok = await runCommand(ScheduleSet, ['0 4 * * 0', '--root', dir, '--json', '--', 'nodes', 'rebase', '--all', '--image', 'lab'])
    expect(ok.error?.message).toBeUndefined()
    expect((ok.result as {checked: {now: string[]}}).checked.now).toContain('image lab (now lab@1) exists')
  })
})
