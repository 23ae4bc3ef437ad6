import {promises as fs} from 'node:fs'

import {PreconditionError, UserError} from '../../errors.js'
import {BMC_SECRETS_FILE, type InventoryBmc} from '../../inventory/inventory.js'
import {type Context} from '../../system/context.js'
import {type Root} from '../../system/paths.js'

/** The environment variable that gives every BMC without a line in the secrets file its password (cron, one-off runs). */
export const PASSWORD_ENV = 'PXEROOT_BMC_PASSWORD'

const HEADER = [
  '# pxeroot: BMC passwords, one line per node: NAME PASSWORD (everything after the first space).',
  '# Root only (0600): pxeroot refuses this file when anyone else may read it. Edit it with',
  '# "pxeroot nodes set NODE --bmc-password-file FILE", or by hand.',
]

/** The file's lines as node → password; pure. A password is everything after the name and one space or tab. */
export function parseBmcSecrets(text: string, source = BMC_SECRETS_FILE): Map<string, string> {
  const out = new Map<string, string>()
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '')
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    const m = /^(\S+)[ \t](.+)$/.exec(line)
    if (!m) throw new UserError(`${source}: line ${i + 1}: expected NAME PASSWORD (the password is missing)`, 'one line per node, e.g. "node01 s3cret"')
    out.set(m[1], m[2])
  }
  return out
}

export function renderBmcSecrets(secrets: ReadonlyMap<string, string>): string {
  const lines = [...secrets].sort(([a], [b]) => a.localeCompare(b, 'en', {numeric: true})).map(([name, password]) => `${name} ${password}`)
  return [...HEADER, ...lines].join('\n') + '\n'
}

/**
 * The secrets file, refused (nothing done) when it is group- or world-accessible or not owned by
 * root: a password others can read is no secret, and ssh refuses its keys for the same reason.
 */
export async function loadBmcSecrets(root: Root): Promise<Map<string, string>> {
  const file = root.resolve(BMC_SECRETS_FILE)
  const st = await fs.stat(file).catch(() => undefined)
  if (!st) return new Map()
  if ((st.mode & 0o077) !== 0 || st.uid !== 0) {
    throw new PreconditionError(`${BMC_SECRETS_FILE} may be read by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}): pxeroot will not use passwords from it`,
      `chown root:root ${file} && chmod 600 ${file}`)
  }
  return parseBmcSecrets(await fs.readFile(file, 'utf8'))
}

/** Writes the secrets file atomically, 0600, root's. */
export async function saveBmcSecrets(ctx: Pick<Context, 'root' | 'files'>, secrets: ReadonlyMap<string, string>): Promise<void> {
  await ctx.files.write(ctx.root.resolve(BMC_SECRETS_FILE), renderBmcSecrets(secrets), {mode: 0o600, forceMode: true})
}

/** The longest password IPMI v2 (RMCP+) carries. */
const IPMI_PASSWORD_BYTES = 20

/** A password as --bmc-password-file gives it: the file's first line ("-": standard input), checked for the driver. */
export function checkedPassword(text: string, driver: InventoryBmc['driver'], from: string): string {
  const password = text.split('\n')[0].replace(/\r$/, '')
  if (password === '') throw new UserError(`--bmc-password-file: ${from} holds no password on its first line`)
  if (/[\0]/.test(password)) throw new UserError(`--bmc-password-file: the password in ${from} holds a NUL byte`)
  if (/^\s|\s$/.test(password)) throw new UserError(`--bmc-password-file: the password in ${from} starts or ends with a space, which the secrets file cannot keep`, 'remove the spaces, or change the BMC\'s password')
  if (driver === 'ipmi' && Buffer.byteLength(password) > IPMI_PASSWORD_BYTES) {
    throw new UserError(`--bmc-password-file: the password in ${from} is longer than ${IPMI_PASSWORD_BYTES} bytes, the most IPMI v2 carries`)
  }
  return password
}

/** A node's BMC password: its line in the secrets file, else PXEROOT_BMC_PASSWORD, else none. */
export function bmcPassword(node: string, secrets: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return secrets.get(node) ?? (env[PASSWORD_ENV] || undefined)
}
