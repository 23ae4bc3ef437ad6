/**
 * The real lighttpd on pxeroot's rendered drop-in, in private network namespaces: what a node on
 * the boot network gets, and what anyone or anything else does not.
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {applyBootConfig} from '../../src/apply/apply.js'
import {type LabDaemon} from '../../src/backends/types.js'
import {LIGHTTPD_PATHS, lighttpd} from '../../src/backends/web/lighttpd.js'
import {parseSite} from '../../src/config/site-file.js'
import {webServes} from '../../src/doctor/web.js'
import {renderLighttpdDropIn, renderLighttpdMain} from '../../src/render/web/lighttpd.js'
import {makeRoot} from '../../src/system/paths.js'
import {type Runner, execaRunner} from '../../src/system/runner.js'
import {createHttpNet, type HttpNet, type HttpNetOptions, waitListening} from '../support/http-net.js'
import {FIXTURES, seedSite, testContext} from '../support/tmp-root.js'

const SERVER = '192.168.0.10'
const MAC_SCRIPT = '/ipxe/nodes/01-52-54-00-ab-cd-ef.ipxe'
const KERNEL = '/pxeroot/debian-bookworm/current/vmlinuz'

interface Reply {
  code: string
  body: Buffer
}

/** curl from the client namespace: the HTTP code and the body. */
async function get(net: HttpNet, url: string, ...curlArgs: string[]): Promise<Reply> {
  const [cmd, ...args] = net.inClient(['curl', '--silent', '--max-time', '10', '--noproxy', '*', '--output', '-', '--write-out', '%{http_code}', ...curlArgs, url])
  const r = await execa(cmd, args, {encoding: 'buffer', reject: false, timeout: 20_000})
  const out = Buffer.from(r.stdout)
  return {code: out.subarray(-3).toString(), body: out.subarray(0, -3)}
}

/** A temp root with the seed's boot configuration applied for boot.transport http, a fake kernel, readable by www-data. */
async function servedRoot(): Promise<{dir: string, tftp: string, kernel: Buffer}> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-web-'))
  await fs.chmod(dir, 0o755)
  await seedSite(dir, {nodes: true, site: (await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8')) + 'boot: {transport: http}\n'})
  await applyBootConfig(testContext(dir))
  const tftp = path.join(dir, 'var/lib/tftpboot')
  const kernel = randomBytes(3 * 1024 * 1024)
  await fs.mkdir(path.join(tftp, path.dirname(KERNEL)), {recursive: true})
  await fs.writeFile(path.join(tftp, KERNEL), kernel, {mode: 0o644})
  for (const d of ['var', 'var/lib', 'var/lib/tftpboot']) await fs.chmod(path.join(dir, d), 0o755)
  return {dir, tftp, kernel}
}

/** The drop-in pxeroot renders for the seed site, serving where this root keeps its tftp tree (the lab's delta too). */
async function dropInFor(root: string, tftp: string): Promise<string> {
  const site = parseSite(await fs.readFile(path.join(root, 'etc/pxeroot/pxeroot.yaml'), 'utf8'))
  return renderLighttpdDropIn({...site, paths: {...site.paths, tftp}})
}

/** lighttpd writes its access log in batches: the text once it holds what is looked for (bounded). */
async function logHolding(file: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const text = await fs.readFile(file, 'utf8')
    if (pattern.test(text) || Date.now() > deadline) return text
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

async function wwwDataFile(file: string): Promise<string> {
  await fs.writeFile(file, '')
  await fs.chown(file, 33, 33)
  return file
}

type ServedRoot = Awaited<ReturnType<typeof servedRoot>>

/**
 * For the calling describe block: a served root and lighttpd on it (the argv `command` returns,
 * in the server namespace), listening before the first test; ended by PID after the last.
 */
function lighttpdOn(network: Omit<HttpNetOptions, 'server'>, command: (root: ServedRoot) => Promise<string[]>): {net: HttpNet, root: ServedRoot} {
  const served = {} as {net: HttpNet, root: ServedRoot}
  beforeAll(async () => {
    served.root = await servedRoot()
    served.net = await createHttpNet({server: `${SERVER}/24`, ...network})
    void served.net.start(await command(served.root), 120_000, path.join(served.root.dir, 'lighttpd.out'))
    await waitListening(served.net, SERVER, 80, 'tcp')
  }, 60_000)
  afterAll(async () => {
    await served.net?.destroy()
    if (served.root) await fs.rm(served.root.dir, {recursive: true, force: true})
  })
  return served
}

describe('lighttpd on pxeroot\'s drop-in, in a private network namespace', () => {
  const served = lighttpdOn({clients: ['192.168.0.201/24'], outside: '10.99.9.2/24'}, async ({dir, tftp}) => {
    const dropIn = path.join(dir, 'lighttpd-pxeroot.conf')
    await fs.writeFile(dropIn, await dropInFor(dir, tftp))
    const main = path.join(dir, 'lighttpd.conf')
    await fs.writeFile(main, renderLighttpdMain({include: dropIn, accessLog: await wwwDataFile(path.join(dir, 'access.log')), errorLog: await wwwDataFile(path.join(dir, 'error.log'))}))
    return ['lighttpd', '-D', '-f', main]
  })
  const client = execaRunner()
  /** The doctor's fetch, run from the client namespace. */
  const fromClient: Runner = {run: (command, args, options) => client.run('ip', ['netns', 'exec', served.net.client, command, ...args], options)}

  it('serves a node its script and its kernel, and logs both (what the lab reads as milestones)', async () => {
    const script = await get(served.net, `http://${SERVER}${MAC_SCRIPT}`)
    expect(script.code).toBe('200')
    expect(script.body.toString()).toBe(await fs.readFile(path.join(served.root.tftp, MAC_SCRIPT), 'utf8'))
    const kernel = await get(served.net, `http://${SERVER}${KERNEL}`)
    expect(kernel.code).toBe('200')
    expect(kernel.body.equals(served.root.kernel)).toBe(true)
    const kernelLine = new RegExp(`^192\\.168\\.0\\.201 .*"GET ${KERNEL} HTTP/1\\.1" 200 ${served.root.kernel.length} `, 'm')
    const log = await logHolding(path.join(served.root.dir, 'access.log'), kernelLine)
    expect(log).toMatch(new RegExp(`^192\\.168\\.0\\.201 .*"GET ${MAC_SCRIPT} HTTP/1\\.1" 200 `, 'm'))
    expect(log).toMatch(kernelLine)
  })

  it('lists no directory, serves nothing outside the boot folders, takes no writes', async () => {
    // A folder without its "/" is first redirected to it (lighttpd's own), and then refused.
    for (const url of ['/pxeroot/', '/ipxe/nodes/', '/pxeroot/debian-bookworm', '/', '/undionly.kpxe', '/ipxe/../undionly.kpxe', '/pxeroot/%2e%2e/undionly.kpxe', '/../etc/passwd']) {
      expect((await get(served.net, `http://${SERVER}${url}`, '--path-as-is', '--location')).code, url).toBe('403')
    }
    expect((await get(served.net, `http://${SERVER}/ipxe/boot.ipxe`, '--request', 'PUT', '--data', 'x')).code).toBe('403')
    expect((await get(served.net, `http://${SERVER}/ipxe/boot.ipxe`, '--request', 'DELETE')).code).toBe('403')
    expect(await fs.readFile(path.join(served.root.tftp, 'ipxe/boot.ipxe'), 'utf8')).toMatch(/^#!ipxe\n/)
  })

  it('refuses a client from outside the boot subnet, though it reaches the address', async () => {
    const outside = await get(served.net, `http://${SERVER}${MAC_SCRIPT}`, '--interface', '10.99.9.2')
    expect(outside.code).toBe('403')
    const refused = new RegExp(`^10\\.99\\.9\\.2 .*"GET ${MAC_SCRIPT} HTTP/1\\.1" 403 `, 'm')
    expect(await logHolding(path.join(served.root.dir, 'access.log'), refused)).toMatch(refused)
  })

  it('doctor\'s fetch: ok when the node\'s script is served as on disk, and says why when it is not', async () => {
    const onDisk = await fs.readFile(path.join(served.root.tftp, MAC_SCRIPT))
    await expect(webServes(fromClient, `http://${SERVER}${MAC_SCRIPT}`, onDisk)).resolves.toBeUndefined()
    await expect(webServes(fromClient, `http://${SERVER}${MAC_SCRIPT}`, Buffer.from('#!ipxe\nexit\n'))).resolves.toMatch(/serves something else/)
    await expect(webServes(fromClient, `http://${SERVER}/ipxe/nodes/192.168.0.209.ipxe`, onDisk)).resolves.toMatch(/answers HTTP 404$/)
    await expect(webServes(fromClient, `http://${SERVER}:8080${MAC_SCRIPT}`, onDisk)).resolves.toMatch(/Failed to connect/)
  })
})

describe('Debian\'s own lighttpd.conf and enabled snippets with pxeroot\'s drop-in', () => {
  const served = lighttpdOn({clients: ['192.168.0.201/24']}, async ({dir, tftp}) => {
    // Debian's enabled snippets plus the drop-in, and its placeholder site, bound over the
    // package's paths inside a private mount namespace: the host's files are never touched.
    const enabled = path.join(dir, 'conf-enabled')
    await fs.cp('/etc/lighttpd/conf-enabled', enabled, {recursive: true, dereference: true})
    await fs.writeFile(path.join(enabled, '99-pxeroot.conf'), await dropInFor(dir, tftp))
    const www = path.join(dir, 'www')
    await fs.mkdir(www, {mode: 0o755})
    await fs.writeFile(path.join(www, 'index.lighttpd.html'), 'Placeholder page\n', {mode: 0o644})
    const script = [
      'set -e',
      'mount --bind "$1" /etc/lighttpd/conf-enabled',
      'mount --bind "$2" /var/www/html',
      'mount -t tmpfs pxeroot-test /run',
      'mount -t tmpfs -o mode=0777 pxeroot-test /var/log/lighttpd',
      'exec lighttpd -D -f /etc/lighttpd/lighttpd.conf',
    ].join('\n')
    return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', enabled, www]
  })

  it('serves the boot files, and none of the default site: neither its page nor its /javascript alias', async () => {
    expect((await get(served.net, `http://${SERVER}${MAC_SCRIPT}`)).code).toBe('200')
    for (const url of ['/', '/index.lighttpd.html', '/javascript/', '/doc/']) expect((await get(served.net, `http://${SERVER}${url}`)).code, url).toBe('403')
  })

  it('listens for IPv4 on the server address alone; Debian\'s own [::]:80 answers no one', async () => {
    const [cmd, ...args] = served.net.inServer(['ss', '-ltnH'])
    const sockets = String((await execa(cmd, args)).stdout).split('\n').map((l) => l.trim().split(/\s+/)[3]).sort()
    expect(sockets).toEqual([`${SERVER}:80`, '[::]:80'])
    const [c6, ...a6] = served.net.inServer(['curl', '--silent', '--output', '/dev/null', '--write-out', '%{http_code}', '--max-time', '10', `http://[::1]${MAC_SCRIPT}`])
    expect(String((await execa(c6, a6, {reject: false})).stdout)).toBe('403')
  })
})

describe('lighttpd as the lab runs it: its own main config around the generated drop-in', () => {
  let lab: LabDaemon
  const served = lighttpdOn({clients: ['192.168.0.201/24']}, async ({dir, tftp}) => {
    const dropIn = path.join(dir, LIGHTTPD_PATHS.dropIn)
    lab = lighttpd.lab!({generated: new Map([[LIGHTTPD_PATHS.dropIn, await fs.readFile(dropIn, 'utf8')]]), runDir: dir, iface: 'br0', root: makeRoot(dir), server: SERVER, tftpRoot: tftp})
    for (const f of lab.files) {
      await fs.writeFile(path.join(dir, f.name), f.content)
      await fs.chmod(path.join(dir, f.name), f.mode ?? 0o644)
    }
    return [lab.program, ...lab.args]
  })

  it('includes the drop-in where apply wrote it and changes only the document root (the lab\'s overlay)', () => {
    const main = lab.files.find((f) => f.name === 'lighttpd.conf')!.content
    expect(main).toContain(`include "${served.root.dir}${LIGHTTPD_PATHS.dropIn}"`)
    expect(main.trimEnd().split('\n').at(-1)).toBe(`server.document-root := "${served.root.tftp}"`)
    expect(main).toContain('server.username = "www-data"')
    // lighttpd opens its logs as www-data.
    expect(lab.files.filter((f) => f.mode === 0o666).map((f) => f.name).sort()).toEqual(['lighttpd-access.log', 'lighttpd.log'])
  })

  it('serves as the drop-in says, and its access log gives the lab each file with its status, size and time', async () => {
    const started = Date.now()
    expect((await get(served.net, `http://${SERVER}${MAC_SCRIPT}`)).code).toBe('200')
    expect((await get(served.net, `http://${SERVER}${KERNEL}`)).code).toBe('200')
    expect((await get(served.net, `http://${SERVER}/pxeroot/none.img`)).code).toBe('404')
    expect((await get(served.net, `http://${SERVER}/etc/passwd`)).code).toBe('403')
    const log = await logHolding(lab.access!.log, /none\.img/)
    const fetches = lab.access!.fetches(log)
    expect(fetches.map(({client, path: p, status, bytes}) => ({client, path: p, status, bytes}))).toEqual([
      {client: '192.168.0.201', path: MAC_SCRIPT, status: 200, bytes: (await fs.stat(path.join(served.root.tftp, MAC_SCRIPT))).size},
      {client: '192.168.0.201', path: KERNEL, status: 200, bytes: served.root.kernel.length},
      {client: '192.168.0.201', path: '/pxeroot/none.img', status: 404, bytes: expect.any(Number) as number},
      {client: '192.168.0.201', path: '/etc/passwd', status: 403, bytes: expect.any(Number) as number},
    ])
    for (const f of fetches) {
      expect(f.began).toBeLessThanOrEqual(f.ended)
      expect(f.began).toBeGreaterThanOrEqual(started - 1000)
      expect(f.ended).toBeLessThanOrEqual(Date.now())
    }
  })
})
