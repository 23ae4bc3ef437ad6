import {type BootModel, type BootNode} from '../boot/model.js'
import {type Firmware} from '../config/site.js'
import {type Context} from '../system/context.js'
import {type LeaseDatabase} from './dhcp/leases.js'
import {type Root} from '../system/paths.js'

/**
 * The seams every daemon and boot loader plugs into. A new DHCP server, NFS server or loader
 * is a module implementing one of these, its golden files and a lab case; apply, doctor and
 * the lab find it through backends/registry.ts.
 */

/** The kinds of daemons pxeroot configures; a change to one kind's files reloads that daemon. */
export type ServiceKind = 'dhcp' | 'nfs' | 'tftp' | 'web'

/** A file pxeroot wants on disk, by host path. */
export interface DesiredFile {
  path: string
  content: string | Buffer
  mode: number
  /** A file pxeroot edits but does not own (dhcpd.conf's include line): never removed. */
  edited?: boolean
  /** In a directory the admin shares (the tftp root): an existing file pxeroot did not write is never replaced. */
  guarded?: boolean
  /** A copy of an image revision's kernel or initrd where this server had none: the image commands own it, apply never removes it. */
  published?: boolean
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
  /** A failure whose output matches means there was nothing to do (the daemon is not running). */
  nothingToDo?: RegExp
}

/** A node root exported under the same path whose directory was replaced (rebase, rollback). */
export interface SwitchedRoot {
  exportId: number
  /** The host path, as exported. */
  path: string
}

/** What one apply changed for one daemon, so that it is told the least disruptive way. */
export interface ReloadCause {
  /** Its host paths that were created, updated or removed. */
  changed: readonly string[]
  /** Another backend of its kind is active now: this one is being switched away from. */
  retired: boolean
  /** NFS only: roots replaced under an exported path since the daemon was last told. */
  switched?: readonly SwitchedRoot[]
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
  /** Inputs pxeroot's rules allow but this daemon would misread, one line each naming the field
   * and the fix; refused (exit 2) before anything is written. Pure. */
  problems?(model: BootModel): string[]
  /** Checks the candidate with the daemon's own checker before anything is written; throws ValidationError with the daemon's reason. */
  check?(ctx: Context, candidate: Candidate): Promise<void>
  /** How the running daemon sees changed files, least disruptive first; each command is run in turn. */
  reload(cause: ReloadCause): Command[]
  /** A DHCP server's lease database, for `pxeroot status`. */
  readonly leases?: LeaseDatabase
  /**
   * Host state the daemon needs besides its files (Ganesha: node roots as mount points), made
   * by apply on the server itself (root "/") after the files are written and before the reload.
   * Returns what it changed, one line each; the daemon is reloaded when anything was.
   */
  prepare?(ctx: Context, model: BootModel): Promise<string[]>
  /** How `pxeroot lab boot` runs this daemon on the files apply generated; pure. Absent: the lab cannot run it. */
  lab?(env: LabEnv): LabDaemon
}

/**
 * What the lab hands a backend's lab hook. The lab runs the daemon on the generated files as
 * they are on disk, with the smallest delta: its private state paths, the lab's interface, and
 * host paths rewritten to disk paths when --root is not "/" (README, "The lab").
 */
export interface LabEnv {
  /** The generated files as they are on disk, by host path (absent: undefined). */
  generated: AdminTexts
  /** The lab run's private directory: every file the daemon writes goes here. */
  runDir: string
  /** The interface the lab's VMs are on. */
  iface: string
  /** Where host paths are on disk (--root). */
  root: Root
  /** The server's address on the lab network. */
  server: string
  /** DHCP only: addresses to offer these MACs first, as lease state (never a host entry). */
  offers?: readonly {mac: string, ip: string}[]
  /** DHCP only: the run's start, seconds since the epoch, for lease state that carries times. */
  now?: number
  /** Web only: where the lab serves the tftp root from (its overlay, with the lab's copies of the nodes' files). */
  tftpRoot?: string
}

/** An address a DHCP server acknowledged to a MAC (lowercase), as its log shows it. */
export interface LabAck {
  ip: string
  mac: string
}

/** A file a web server sent, as its access log shows it. */
export interface LabFetch {
  client: string
  /** The URL path, without the query. */
  path: string
  status: number
  /** Body bytes sent. */
  bytes: number
  /** When the request began and ended, ms since the epoch. */
  began: number
  ended: number
}

/** A daemon as the lab runs it: in the foreground, on files in the run directory or on disk. */
export interface LabDaemon {
  /** Files the lab writes into the run directory first, by name: the lab's copies of the generated files, seeded state (mode 0644 unless given). */
  files: {name: string, content: string, mode?: number}[]
  /** Directories the lab makes in the run directory first, by name. */
  dirs?: string[]
  /** The program (found on PATH by the lab) and its arguments. */
  program: string
  args: string[]
  /** Added to its environment. */
  env?: Record<string, string>
  /** The file it logs to (the lab reads milestones from it), and the text there that means it serves. */
  log: string
  ready: string
  /** The daemon writes its own log (true) rather than stdout/stderr (false: the lab sends its output to `log`). */
  logsItself: boolean
  /** A DHCP server's log read for the addresses it acknowledged, in order (absent: it hands out none, as a proxy). */
  acks?(log: string): LabAck[]
  /** A DHCP server's lease database in the run directory: what `pxeroot status` reads, as on a server. */
  leaseFile?: string
  /** A web server's access log and the files it shows sent. */
  access?: {log: string, fetches(log: string): LabFetch[]}
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
  /** The firmware it boots (boot.firmware turns it on or off). */
  readonly firmware: Firmware
  /** The file DHCP hands that firmware, relative to the tftp root. */
  readonly bootFile: string
  readonly packages: readonly string[]
  readonly programs: readonly ProgramFile[]
  /** Its configuration files (relative to the tftp root), shared and per node; pure. */
  files(model: BootModel): {path: string, content: string}[]
  /** The configuration file a node is found by, relative to the tftp root. */
  nodeFile(node: BootNode): string
}
