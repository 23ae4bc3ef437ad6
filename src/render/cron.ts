import {header} from './header.js'

/** One scheduled pxeroot run: when, and the pxeroot arguments (without the program). */
export interface ScheduledJob {
  schedule: string
  args: string[]
}

export interface CronFileModel {
  jobs: readonly ScheduledJob[]
  /** Absolute program argv that runs pxeroot, e.g. [process.execPath, ".../bin/run.js"]. */
  program: readonly string[]
  /** How many leading args of each job are its command id ("image update"), so a global flag goes
   * right after it and never behind a "--" the command passes on. */
  commandLength: (args: readonly string[]) => number
  /** The --root prefix to pass, when not "/". */
  rootPrefix?: string
  /** Host path the runs append their output to. */
  logFile: string
}

export const CRON_HEADER = header('#', 'pxeroot', 'Do not edit: use "pxeroot schedule set|rm".')
/** cron runs jobs with PATH=/usr/bin:/bin; debootstrap, chroot, exportfs, dhcpd live in sbin. */
export const CRON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const JOB_MARK = '# pxeroot-job '

/** One word as /bin/sh reads it back unchanged. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}

/** cron turns an unescaped "%" in the command into a newline (stdin); "\%" reaches the shell as "%". */
function cronEscape(command: string): string {
  return command.replaceAll('%', '\\%')
}

export function renderCronLine(model: CronFileModel, job: ScheduledJob): string {
  const n = model.commandLength(job.args)
  const argv = [
    ...model.program,
    ...job.args.slice(0, n),
    ...(model.rootPrefix && model.rootPrefix !== '/' ? ['--root', model.rootPrefix] : []),
    ...job.args.slice(n),
  ]
  const command = `${argv.map(shellWord).join(' ')} >>${shellWord(model.logFile)} 2>&1`
  return `${job.schedule} root ${cronEscape(command)}`
}

/** The whole /etc/cron.d/pxeroot file. Pure. */
export function renderCronFile(model: CronFileModel): string {
  const lines = [CRON_HEADER, 'SHELL=/bin/sh', `PATH=${CRON_PATH}`]
  for (const job of model.jobs) {
    // The job as pxeroot reads it back (show, rm, set replacing it): parsing shell words would be guesswork.
    lines.push(JOB_MARK + JSON.stringify({schedule: job.schedule, args: job.args}), renderCronLine(model, job))
  }
  return lines.join('\n') + '\n'
}

/** Whether a file's text is one pxeroot wrote (so it may be replaced or removed). */
export function isOwnedCronFile(text: string): boolean {
  return text.startsWith(CRON_HEADER)
}

/** The jobs recorded in a file renderCronFile wrote. Pure. */
export function parseCronFile(text: string): ScheduledJob[] {
  const jobs: ScheduledJob[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith(JOB_MARK)) continue
    try {
      const data = JSON.parse(line.slice(JOB_MARK.length)) as Partial<ScheduledJob>
      if (typeof data.schedule === 'string' && Array.isArray(data.args) && data.args.every((a) => typeof a === 'string')) {
        jobs.push({schedule: data.schedule, args: data.args})
      }
    } catch {
      // A damaged marker: that job is dropped on the next write, which the file's header forbids editing anyway.
    }
  }
  return jobs
}
