import {type LabFetch} from '../backends/types.js'
import {tftpPath, type TftpTracker} from './tftp.js'

/**
 * What a node fetched of its boot files, whichever way it boots: over TFTP as its capture shows
 * the transfers, or over HTTP as the web server's access log shows them (iPXE).
 */
export interface Fetched {
  state: 'requested' | 'sending' | 'done' | 'error' | 'aborted'
  error?: string
  /** ms since the epoch: when it was asked for, and when the last of it was sent (done). */
  began?: number
  ended?: number
}

/** Where a node's boot files come from, and what the lab knows of the files (HTTP: their sizes, to tell a whole file from part of one). */
export interface FetchSource {
  transport: 'tftp' | 'http'
  client: string
  tftp: TftpTracker
  http: readonly LabFetch[]
  sizes?: Readonly<Record<string, number>>
}

/** One request over HTTP: done when the whole file was sent (200, every byte). */
function overHttp(f: LabFetch, size: number | undefined): Fetched {
  if (f.status !== 200) return {state: 'error', error: `HTTP ${f.status}`, began: f.began, ended: f.ended}
  if (size !== undefined && f.bytes !== size) return {state: 'error', error: `${f.bytes} of ${size} bytes sent`, began: f.began, ended: f.ended}
  return {state: 'done', began: f.began, ended: f.ended}
}

/** The first complete fetch of a file (relative to the tftp root, as the boot files name it), or the last attempt at it. */
export function fetchedFile(source: FetchSource, file: string): Fetched | undefined {
  const want = tftpPath(file)
  if (source.transport === 'tftp') return source.tftp.read(want)
  const all = source.http.filter((f) => f.client === source.client && tftpPath(f.path) === want).map((f) => overHttp(f, source.sizes?.[want]))
  return all.find((f) => f.state === 'done') ?? all.at(-1)
}

/** Why a file did not arrive, in the words of the evidence. */
export function fetchProblem(source: FetchSource, file: string): string {
  const t = fetchedFile(source, file)
  if (!t) return `${file} was never requested`
  return t.state === 'error' ? `${file}: ${t.error ?? `${source.transport.toUpperCase()} error`}` : `${file} did not arrive completely`
}

/** Seconds from the kernel's request to the initrd's last byte: the boot's big transfer, to compare TFTP with HTTP. */
export function kernelInitrdSeconds(source: FetchSource, kernel: string, initrd: string): number | undefined {
  const k = fetchedFile(source, kernel)
  const i = fetchedFile(source, initrd)
  if (k?.state !== 'done' || i?.state !== 'done' || k.began === undefined || i.ended === undefined) return undefined
  return (i.ended - k.began) / 1000
}
