/**
 * What `schedule set` checks before it writes the job, beyond the command's words: what cron would
 * otherwise find broken at every run (the site file, the inventory, the images, recipe and nodes
 * the command names, another job taking the same lock at the same minute), and what only the
 * run itself can find. Refusals name the field and the fix, as the command itself would.
 */
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'
import {resolveRecipe} from '../images/recipes.js'
import {resolveRevision} from '../images/revision-ref.js'
import {formatRevisionRef} from '../images/layout.js'
import {listImages} from '../images/store.js'
import {loadInventory} from '../inventory/inventory.js'
import {type Context} from '../system/context.js'
import {STATE} from '../system/paths.js'
import {firstCommonMinute} from './cron-spec.js'

/** A scheduled command as its own parser read it: oclif's id ("image:update"), args, flags, positional words. */
export interface ParsedCommand {
  id: string
  args: Record<string, unknown>
  flags: Record<string, unknown>
  argv: readonly string[]
}

/** Another job of the schedule: its time, its command's id and the words after the id. */
export interface OtherJob {
  schedule: string
  id: string
  args: readonly string[]
}

const shown = (job: OtherJob) => [...job.id.split(':'), ...job.args].join(' ')

export interface Preflight {
  /** What was checked now, in words. */
  now: string[]
  /** What only the run can find out. */
  atRunTime: string[]
}

const WITHOUT_SITE = new Set(['version', 'init'])
/** Commands that never read the inventory (the others do, directly or through the boot refresh). */
const WITHOUT_INVENTORY = new Set(['image:build', 'image:import', 'image:export', 'image:list', 'image:show', 'image:diff', 'storage:prepare'])
/** Commands that only read: they take no lock and change nothing. */
const READ_ONLY = new Set(['version', 'status', 'doctor', 'nodes:list', 'image:list', 'image:show', 'image:diff'])

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** The image revisions (NAME or NAME@N) a command names. */
function imagesNamed(c: ParsedCommand, site: SiteModel): string[] {
  const image = str(c.flags.image)
  switch (c.id) {
    case 'image:update': return c.flags.all ? [] : [str(c.args.name)].filter((x): x is string => x !== undefined)
    case 'image:exec': case 'image:prune': case 'image:rollback': case 'image:shell': return [str(c.args.name)!]
    case 'image:show': case 'image:export': case 'image:rm': return [str(c.args.revision)!]
    case 'image:diff': return [str(c.args.from)!, str(c.args.to)!]
    // Without --image, clone takes the site's boot.image.
    case 'nodes:clone': return [image ?? site.boot.image]
    default: return image ? [image] : []
  }
}

/** The nodes a command names (which must be in the inventory). */
function nodesNamed(c: ParsedCommand): string[] {
  switch (c.id) {
    case 'nodes:set': case 'nodes:rm': return [str(c.args.name)!]
    case 'nodes:rollback': return [str(c.args.node)!]
    case 'nodes:rebase': case 'nodes:prune': case 'status': case 'lab:boot': return c.flags.all ? [] : [...c.argv]
    default: return []
  }
}

/** The lock a job's run takes: the site's, an image's, or none (read-only, --dry-run). */
function lockOf(id: string, words: readonly string[]): string | undefined {
  if (READ_ONLY.has(id) || words.includes('--dry-run')) return undefined
  if (id.startsWith('image:')) {
    // --all takes every image's lock in turn: it meets any image job.
    if (words.includes('--all')) return 'image *'
    const name = words.find((w) => !w.startsWith('-'))?.split('@')[0]
    return name ? `image ${name}` : undefined
  }
  return 'the site'
}

function sameLock(a: string, b: string): boolean {
  return a === b || (a.startsWith('image ') && b.startsWith('image ') && (a === 'image *' || b === 'image *'))
}

/**
 * Checks a job before it is scheduled; throws the refusal the run would meet, or returns what was
 * checked and what cannot be yet. `words` are the command's arguments after its id.
 */
export async function preflight(ctx: Context, schedule: string, command: ParsedCommand | undefined, id: string, words: readonly string[], others: readonly OtherJob[], now = new Date()): Promise<Preflight> {
  const checked = [`the command's arguments, as "pxeroot ${id.replaceAll(':', ' ')}" reads them`]
  const later = ['that no other pxeroot run holds its lock when it starts (it would exit 5, busy; the log says so)']
  if (!WITHOUT_SITE.has(id)) {
    const site = await loadSite(ctx.root)
    checked.push(`the site file ${STATE.siteFile}`)
    let nodes: readonly string[] = []
    if (!WITHOUT_INVENTORY.has(id)) {
      nodes = (await loadInventory(ctx.root)).nodes.map((n) => n.name)
      checked.push(`the inventory ${STATE.inventoryFile} (${nodes.length} node${nodes.length === 1 ? '' : 's'})`)
    }
    if (command) {
      for (const text of imagesNamed(command, site)) {
        const ref = await resolveRevision(ctx, site, text, 'command: image')
        checked.push(`image ${text}${text.includes('@') ? '' : ` (now ${formatRevisionRef(ref)})`} exists`)
      }
      if (command.id === 'image:update' && command.flags.all) {
        const images = await listImages(ctx.root, site)
        checked.push(images.length > 0 ? `the images to update: ${images.join(', ')}` : 'the images to update: none yet (the job does nothing until one is built)')
      }
      if (command.id === 'image:build') {
        resolveRecipe(site, str(command.args.recipe)!)
        checked.push(`recipe ${str(command.args.recipe)} exists`)
      }
      const missing = nodesNamed(command).filter((n) => !nodes.includes(n))
      if (missing.length > 0) throw new UserError(`command: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the inventory`, 'see "pxeroot nodes list"; schedule nodes that exist')
      if (nodesNamed(command).length > 0) checked.push(`the nodes it names are in the inventory: ${nodesNamed(command).join(', ')}`)
    }
    later.push('the site file, the inventory and the images as they are then (a change in between is read then)')
  }
  const lock = lockOf(id, words)
  if (lock) {
    for (const other of others) {
      const theirs = lockOf(other.id, other.args)
      if (!theirs || !sameLock(lock, theirs)) continue
      const at = firstCommonMinute(schedule, other.schedule, now)
      if (at) {
        throw new UserError(`schedule: "${schedule}" starts this job at the same minute as the scheduled "pxeroot ${shown(other)}" ("${other.schedule}"), first at ${at.toString().slice(0, 21)}: both take the lock of ${lock === 'image *' ? theirs : lock}, so one of them would exit 5 (busy) then`,
          'pick a minute the other job does not start at, e.g. a few minutes later')
      }
    }
    checked.push(`no other scheduled job that takes the same lock starts at the same minute (within a year)`)
  }
  if (id === 'image:update' || id === 'image:build') later.push('the mirror and the network, and free space for the new revision')
  if (!READ_ONLY.has(id) && !WITHOUT_SITE.has(id)) later.push('the daemons\' own checkers on the files written then')
  return {now: checked, atRunTime: later}
}
