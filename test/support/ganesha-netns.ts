/**
 * The real NFS-Ganesha (with its dbus-daemon and rpcbind) in a private network and mount
 * namespace, serving an export file pxeroot rendered, and libnfs's nfs-cat as the client (this
 * host's kernel has no NFS client). Mounts made on the host before it starts are what it sees.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface Ganesha {
  /** Its state directory (ganesha.conf, the export file, its log, pid, bus socket). */
  dir: string
  address: string
  /** Ganesha's network namespace (never the host's). */
  netns: string
  /** A file as a node reads it over NFSv3: its text, or "error: ..." */
  cat(file: string): string
  stop(): Promise<void>
}

/**
 * Starts Ganesha on `address` with pxeroot's export file `exportsText`, each export's Path made
 * `disk(Path)` (where the root is on this host under a test's --root) and its clients `address`
 * (the client runs in the same namespace).
 */
export async function startGanesha(dir: string, address: string, exportsText: string, disk: (hostPath: string) => string): Promise<Ganesha> {
  await fs.mkdir(path.join(dir, 'recovery'), {recursive: true})
  await fs.writeFile(path.join(dir, 'pxeroot.conf'), exportsText.replace(/Path = "([^"]+)"/g, (_, p: string) => `Path = "${disk(p)}"`).replace(/Clients = [^;]+;/g, `Clients = ${address};`))
  await fs.writeFile(path.join(dir, 'ganesha.conf'), [
    `NFS_CORE_PARAM { Bind_Addr = ${address}; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; }`,
    `NFSV4 { Graceless = true; RecoveryRoot = "${dir}/recovery"; }`,
    `%include "${dir}/pxeroot.conf"`,
  ].join('\n') + '\n')
  const script = [
    // Mounts made here stay here; the host's (the loop mount is shared) still arrive.
    'mount --make-rslave / && mount -t tmpfs pxeroot-test-run /run',
    `ip link set lo up && ip addr add ${address}/32 dev lo`,
    `dbus-daemon --system --address=unix:path=${dir}/bus --nofork --nopidfile & `,
    'rpcbind -f -w &',
    'sleep 0.5',
    `DBUS_SYSTEM_BUS_ADDRESS=unix:path=${dir}/bus ganesha.nfsd -F -L "${dir}/ganesha.log" -f "${dir}/ganesha.conf" -p "${dir}/ganesha.pid" &`,
    'wait',
  ].join('\n')
  const ns: ChildProcess = spawn('timeout', ['300', 'unshare', '--net', '--mount', '--propagation', 'unchanged', 'sh', '-c', script], {detached: true, stdio: 'ignore'})
  const group = -ns.pid!
  const alive = () => {
    try {
      process.kill(group, 0)
      return true
    } catch {
      return false
    }
  }
  const stop = async () => {
    // The whole group (timeout, the namespace's shell, its daemons); Ganesha takes a few seconds to stop.
    if (alive()) process.kill(group, 'SIGTERM')
    for (let i = 0; i < 75 && alive(); i++) await sleep(200)
    if (alive()) process.kill(group, 'SIGKILL')
  }
  for (let i = 0; i < 100; i++) {
    if ((await fs.readFile(path.join(dir, 'ganesha.log'), 'utf8').catch(() => '')).includes('NFS SERVER INITIALIZED')) break
    await sleep(200)
  }
  const pid = (await fs.readFile(path.join(dir, 'ganesha.pid'), 'utf8').catch(() => '')).trim()
  if (!pid) {
    await stop()
    throw new Error(`NFS-Ganesha did not start: ${(await fs.readFile(path.join(dir, 'ganesha.log'), 'utf8').catch(() => '')).slice(-2000)}`)
  }
  const netns = `/proc/${pid}/ns/net`
  if (await fs.readlink(netns) === await fs.readlink('/proc/self/ns/net')) throw new Error('internal: Ganesha runs in the host\'s network namespace')
  return {
    dir, address, netns, stop,
    cat(file) {
      const r = spawnSync('timeout', ['15', 'nsenter', `--net=${netns}`, 'nfs-cat', `nfs://${address}${file}`], {encoding: 'utf8'})
      return r.status === 0 ? r.stdout.trim() : `error: ${r.stderr.trim()}`
    },
  }
}
