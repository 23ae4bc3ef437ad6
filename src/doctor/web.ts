import path from 'node:path'

import {ipxe} from '../backends/loaders/ipxe.js'
import {PreconditionError} from '../errors.js'
import {httpBase, IPXE_BOOT_SCRIPT} from '../render/loaders/ipxe.js'
import {readIfExists} from '../system/files.js'
import {type Runner} from '../system/runner.js'
import type {Check, Facts} from './check.js'

const CHECK = 'web server'

/**
 * Fetches a URL the way a node does (curl, no proxy, bounded) and compares it with the file the
 * web server should be serving; the problem in a few words, or undefined when it matches.
 */
export async function webServes(runner: Runner, url: string, expected: Buffer, signal?: AbortSignal): Promise<string | undefined> {
  const r = await runner.run('curl', ['--silent', '--show-error', '--noproxy', '*', '--max-time', '10', '--write-out', '\n%{http_code}', url], {reject: false, timeout: 20_000, cancelSignal: signal})
  if (r.exitCode !== 0) return `${url}: ${r.stderr.trim().split('\n').at(-1) ?? `curl exit ${r.exitCode}`}`
  const cut = r.stdout.lastIndexOf('\n')
  const [body, code] = [r.stdout.slice(0, cut), r.stdout.slice(cut + 1)]
  if (code !== '200') return `${url} answers HTTP ${code}`
  if (body !== expected.toString('utf8')) return `${url} serves something else than ${expected.length} bytes of pxeroot's file (another document root?)`
  return undefined
}

/**
 * With boot.transport http: lighttpd installed, running, and serving a node's script from the
 * server's boot address. The network is only touched for the host's own root (not --root).
 */
export async function webServer({ctx, site, model}: Facts): Promise<Check[]> {
  if (site.boot.transport !== 'http') return []
  const installed = await ctx.runner.run('lighttpd', ['-v'], {reject: false, timeout: 10_000}).then(() => true, (error: unknown) => {
    if (error instanceof PreconditionError) return false
    throw error
  })
  if (!installed) return [{check: CHECK, status: 'fail', message: 'boot.transport is http, but lighttpd (the web server) is not installed', fix: 'apt-get install lighttpd'}]
  if (!ctx.root.isHost) return [{check: CHECK, status: 'skip', message: 'lighttpd is installed; --root is set, so whether the host\'s serves this root is not checked'}]
  const active = await ctx.runner.run('systemctl', ['is-active', 'lighttpd.service'], {reject: false, timeout: 10_000}).catch(() => ({exitCode: 1, stdout: 'no systemctl'}))
  if (active.exitCode !== 0) return [{check: CHECK, status: 'fail', message: `lighttpd is not running (${active.stdout.trim() || 'inactive'})`, fix: 'systemctl enable --now lighttpd'}]
  const file = model.nodes[0] ? ipxe.nodeFile(model.nodes[0]) : IPXE_BOOT_SCRIPT
  const expected = await readIfExists(ctx.root.resolve(path.posix.join(site.paths.tftp, file)))
  if (!expected) return [{check: CHECK, status: 'fail', message: `${path.posix.join(site.paths.tftp, file)} does not exist`, fix: 'pxeroot apply'}]
  const url = `${httpBase(site)}/${file}`
  const problem = await webServes(ctx.runner, url, expected, ctx.signal)
  return [problem === undefined
    ? {check: CHECK, status: 'ok', message: `lighttpd is running and serves ${url}`}
    : {check: CHECK, status: 'fail', message: problem, fix: 'pxeroot apply (it reloads lighttpd with its drop-in), then systemctl status lighttpd'}]
}
