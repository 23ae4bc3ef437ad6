import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {CRON_HEADER, parseCronFile, renderCronFile, type CronFileModel} from '../../src/render/cron.js'
import {asUserCrontab} from '../../src/schedule/cron-check.js'
import {cronScheduleProblems, normalizeSchedule} from '../../src/schedule/cron-spec.js'

const IDS = ['image:update', 'image:exec', 'apply', 'version']

function model(jobs: CronFileModel['jobs'], extra: Partial<CronFileModel> = {}): CronFileModel {
  return {
    jobs,
    program: ['/usr/bin/node', '/opt/pxeroot/bin/run.js'],
    commandLength: (args) => (args[0] === 'apply' || args[0] === 'version' ? 1 : IDS.includes(args.slice(0, 2).join(':')) ? 2 : 0),
    logFile: '/var/log/pxeroot/cron.log',
    ...extra,
  }
}

async function cronAccepts(systemCrontab: string): Promise<{ok: boolean, why: string}> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-crontest-'))
  try {
    await fs.writeFile(path.join(dir, 'c'), asUserCrontab(systemCrontab))
    const r = await execa('crontab', ['-n', path.join(dir, 'c')], {reject: false})
    return {ok: r.exitCode === 0, why: r.stderr}
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}

describe('cron schedule validation', () => {
  const good = ['0 3 * * 0', '*/15 * * * *', '0 0-23/2 * * *', '30 4 1,15 * *', '0 3 * jan-mar mon-fri', '0 3 * * 7', '5 4 * * SUN', '@daily', '@weekly', '  0   3 * * 0  ']
  const bad: Array<[string, RegExp]> = [
    ['0 3 * *', /has 4 fields, cron needs 5/],
    ['61 3 * * 0', /minute "61" is out of range 0-59/],
    ['0 24 * * 0', /hour "24" is out of range 0-23/],
    ['0 3 0 * *', /day of month "0" is out of range 1-31/],
    ['0 3 * 13 *', /month "13" is out of range 1-12/],
    ['0 3 * * 8', /day of week "8" is out of range 0-7/],
    ['0 3 * * sunday', /day of week "sunday" is neither a number/],
    ['*/0 * * * *', /minute step "\/0" must be at least 1/],
    ['0 5-2 * * *', /hour range "5-2" starts after it ends/],
    ['0,,1 3 * * *', /minute "" is not a value|minute "0,,1"/],
    ['@fortnightly', /not one of @reboot/],
    ['0 3 * * 1,', /day of week/],
    ['0 3 * * 0; rm -rf /', /has 8 fields, cron needs 5/],
  ]

  it('accepts what cron accepts and writes it with single spaces', () => {
    for (const spec of good) expect(cronScheduleProblems(spec), spec).toEqual([])
    expect(normalizeSchedule('  0   3 * * 0  ')).toBe('0 3 * * 0')
    expect(normalizeSchedule('@DAILY')).toBe('@daily')
  })

  it('names the field and the problem for each mistake', () => {
    for (const [spec, pattern] of bad) expect(cronScheduleProblems(spec).join('; '), spec).toMatch(pattern)
    expect(() => normalizeSchedule('61 3 * * 0')).toThrow(/^schedule: minute "61" is out of range 0-59$/)
  })

  it('never accepts a schedule Debian cron rejects (checked with crontab -n)', async () => {
    for (const spec of [...good, ...bad.map(([s]) => s), '*/60 * * * *', '0 0 * * 1-7/2', '0 0 * 1-jan *']) {
      if (cronScheduleProblems(spec).length > 0) continue
      const text = renderCronFile(model([{schedule: normalizeSchedule(spec), args: ['apply']}]))
      expect((await cronAccepts(text)).ok, spec).toBe(true)
    }
  })
})

describe('cron file renderer', () => {
  it('renders the owned file: header, SHELL, a PATH with sbin, and the job with absolute program and log', () => {
    const text = renderCronFile(model([{schedule: '0 3 * * 0', args: ['image', 'update', '--all']}]))
    expect(text).toBe([
      CRON_HEADER,
      'SHELL=/bin/sh',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '# pxeroot-job {"schedule":"0 3 * * 0","args":["image","update","--all"]}',
      '0 3 * * 0 root /usr/bin/node /opt/pxeroot/bin/run.js image update --all >>/var/log/pxeroot/cron.log 2>&1',
      '',
    ].join('\n'))
  })

  it('passes --root right after the command id, ahead of any "--"', () => {
    const text = renderCronFile(model([{schedule: '@daily', args: ['image', 'exec', 'lab', '--', 'apt-get', 'install', '-y', 'vim']}], {rootPrefix: '/tmp/my root'}))
    expect(text).toContain("@daily root /usr/bin/node /opt/pxeroot/bin/run.js image exec --root '/tmp/my root' lab -- apt-get install -y vim >>")
  })

  it('reads back exactly the jobs it wrote', () => {
    const jobs = [{schedule: '0 3 * * 0', args: ['image', 'update', '--all']}, {schedule: '@hourly', args: ['apply', "it's 100%"]}]
    expect(parseCronFile(renderCronFile(model(jobs)))).toEqual(jobs)
  })

  it('is a file cron accepts, and the line runs the program with the arguments unchanged', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-cronrun-'))
    try {
      const script = path.join(dir, 'echo-args.js')
      await fs.writeFile(script, 'console.log(JSON.stringify(process.argv.slice(2)))\n')
      const log = path.join(dir, 'cron.log')
      const args = ['apply', "it's 100% $HOME `id` \\ \"q\"", '*']
      const text = renderCronFile(model([{schedule: '*/5 * * * *', args}], {program: [process.execPath, script], logFile: log}))
      expect((await cronAccepts(text)).ok).toBe(true)
      // What cron does with the command field: unescape "\%", cut at an unescaped "%", run with /bin/sh.
      const line = text.split('\n').find((l) => l.startsWith('*/5'))!
      const shell = line.replace(/^(\S+\s+){6}/, '').replaceAll('\\%', '%')
      await execa('/bin/sh', ['-c', shell], {env: {PATH: '/usr/bin:/bin'}})
      await execa('/bin/sh', ['-c', shell], {env: {PATH: '/usr/bin:/bin'}})
      const lines = (await fs.readFile(log, 'utf8')).trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(JSON.parse(lines[0])).toEqual(args)
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})

describe('asUserCrontab', () => {
  it('drops only the user field of job lines', () => {
    expect(asUserCrontab('# c\nSHELL=/bin/sh\n0 3 * * 0 root a b\n@daily root c\n')).toBe('# c\nSHELL=/bin/sh\n0 3 * * 0 a b\n@daily c\n')
  })
})

