import {type BootModel, type BootNode} from '../boot/model.js'
import {type Context} from '../system/context.js'

/**
 * The seams every daemon and boot loader plugs into. A new DHCP server, NFS server or loader
 * is a module implementing one of these, its golden files and a lab case; apply, doctor and
 * the lab find it through backends/registry.ts.
 */

/** The kinds of daemons pxeroot configures; a change to one kind's files reloads that daemon. */
export type ServiceKind = 'dhcp' | 'nfs' | 'tftp'

/** A file pxeroot wants on disk, by host path. */
export interface DesiredFile {
  path: string
  content: string | Buffer
  mode: number
  /** A file pxeroot edits but does not own (dhcpd.conf's include line): never removed. */
  edited?: boolean
}

/** The current text of the files a backend edits but does not own (absent: undefined). */
export type AdminTexts = ReadonlyMap<string, string | undefined>

/** The candidate configuration of one apply, before anything is written. */
export interface Candidate {
  /** The candidate text of a host path this apply renders, if it renders it. */
  text(path: string): string | undefined
}

export interface Command {
  command: string
  args: string[]
}

/** A daemon pxeroot writes configuration for: a DHCP server, an NFS server, the TFTP server. */
export interface ServiceBackend {
  readonly kind: ServiceKind
  /** The value of the site setting that selects it (backends.dhcp: isc...). */
  readonly name: string
  /** What an admin calls it, in messages. */
  readonly label: string
  /** The program that reads its files (and checks them), as the admin knows it: dhcpd, exportfs... */
  readonly daemon: string
  /** The Debian packages it needs on the server. */
  readonly packages: readonly string[]
  /** Its systemd unit. */
  readonly unit: string
  /** Every host path it renders, so a changed or stale file is traced to the daemon to reload. */
  readonly paths: readonly string[]
  /** Files it edits but does not own (include lines); read before files() or retire(). */
  readonly adminFiles: readonly string[]
  /** The files it needs, rendered from the boot model; pure. */
  files(model: BootModel, admin: AdminTexts): DesiredFile[]
  /** While another backend of its kind is active: its edits of admin files taken back; pure. */
  retire(admin: AdminTexts): DesiredFile[]
  /** Checks the candidate with the daemon's own checker before anything is written; throws ValidationError with the daemon's reason. */
  check?(ctx: Context, candidate: Candidate): Promise<void>
  /** How the running daemon sees changed files, least disruptive first. */
  reload(): Command[]
  /**
   * Host state the daemon needs besides its files (Ganesha: node roots as mount points), made
   * by apply on the server itself (root "/") after the files are written and before the reload.
   * Returns what it changed, one line each; the daemon is reloaded when anything was.
   */
  prepare?(ctx: Context, model: BootModel): Promise<string[]>
}

/** A program file a loader needs in the tftp root, copied from the host's package. */
export interface ProgramFile {
  /** Its name relative to the tftp root. */
  name: string
  /** Where the package installs it, first found wins. */
  from: readonly string[]
  /** The apt package that has it. */
  pkg: string
}

/** A boot loader: the program files it needs in the tftp root and its per-node configuration. */
export interface BootLoader {
  readonly name: string
  readonly label: string
  readonly packages: readonly string[]
  readonly programs: readonly ProgramFile[]
  /** Its configuration files (relative to the tftp root), shared and per node; pure. */
  files(model: BootModel): {path: string, content: string}[]
  /** The configuration file a node is found by, relative to the tftp root. */
  nodeFile(node: BootNode): string
}
