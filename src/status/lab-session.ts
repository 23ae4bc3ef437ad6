import {promises as fs} from 'node:fs'

import {PreconditionError} from '../errors.js'
import {type Runner} from '../system/runner.js'
import {type LiveSources} from './live.js'

/** Set by `pxeroot lab session` for the commands run in it: the session's description file. */
export const LAB_SESSION_ENV = 'PXEROOT_LAB'

/** What a lab session tells the pxeroot commands run in it (RUN_DIR/session.json). */
export interface LabSessionInfo {
  /** The lab's network namespace (/run/netns/NAME), where its servers and BMCs answer. */
  namespace: string
  runDir: string
  /** The lab's DHCP server's lease files, oldest first. */
  leaseFiles: string[]
  /** Logs of boot-file fetches (the lab's web server's access log). */
  fetchLogs: string[]
  nodes: {name: string, bmc: string, serialLog: string}[]
  pid: number
}

export async function readLabSession(file: string): Promise<LabSessionInfo> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LabSessionInfo
  } catch (error) {
    throw new PreconditionError(`${LAB_SESSION_ENV}=${file}: no lab session there (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'start one with "pxeroot lab session NODE... -- COMMAND"')
  }
}

/**
 * In a lab session, `status` reads the lab's servers as it reads a server's: the lab's DHCP
 * server's lease file, the NFS connections of the lab's namespace (its socket table), and the lab
 * web server's access log. Undefined outside a session.
 */
export async function labSessionSources(runner: Runner, env: NodeJS.ProcessEnv = process.env): Promise<LiveSources | undefined> {
  const file = env[LAB_SESSION_ENV]
  if (!file) return undefined
  const session = await readLabSession(file)
  const readFiles = async (paths: readonly string[]) => (await Promise.all(paths.map(async (file) => ({file, text: await fs.readFile(file, 'utf8').catch(() => undefined)}))))
    .filter((f): f is {file: string, text: string} => f.text !== undefined)
  const readAll = async (paths: readonly string[]) => (await readFiles(paths)).map((f) => f.text)
  return {
    leases: () => readFiles(session.leaseFiles),
    sockets: () => Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(async (table) => (await runner.run('nsenter', [`--net=/run/netns/${session.namespace}`, '--', 'cat', table], {timeout: 10_000})).stdout)),
    fetchLogs: () => readAll(session.fetchLogs),
  }
}
