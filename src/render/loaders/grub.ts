import {type BootNode} from '../../boot/model.js'
import {type SiteModel} from '../../config/site.js'
import {UserError} from '../../errors.js'
import {header} from '../header.js'
import {pxelinuxFileName} from './pxelinux.js'

/** Debian's signed netboot GRUB (grubnetx64.efi) has `/grub` built in as its prefix on the TFTP server. */
export const GRUB_DIR = 'grub'
export const GRUB_NODES_DIR = `${GRUB_DIR}/nodes`
/** The one configuration file the netboot GRUB reads by itself. */
export const GRUB_CFG = `${GRUB_DIR}/grub.cfg`

/**
 * The GRUB file a node is found by, under grub/nodes/: the name pxelinux looks for (lowercase
 * 01-<mac> for MAC-bound nodes, the full uppercase hex address for address-bound ones) plus
 * ".cfg". grub.cfg builds the same name from what GRUB knows about the booting NIC.
 */
export function grubNodeFileName(node: Pick<BootNode, 'ip' | 'mac'>): string {
  return `${pxelinuxFileName(node)}.cfg`
}

/** Characters GRUB's script parser takes literally in an unquoted word. */
const PLAIN_WORD = /^[A-Za-z0-9_.,:/=+@%-]+$/

/** One word of a GRUB command, single-quoted when it holds anything GRUB would interpret ($ ; " ' { # space...). */
export function grubWord(word: string): string {
  return PLAIN_WORD.test(word) ? word : `'${word.replaceAll('\'', '\'\\\'\'')}'`
}

/** The kernel's split of its command line: at spaces outside double quotes (kernel/params.c, next_arg). */
export function kernelWords(cmdline: string): string[] {
  const words: string[] = []
  let word = ''
  let quoted = false
  for (const ch of cmdline) {
    if (/\s/.test(ch) && !quoted) {
      if (word) words.push(word)
      word = ''
      continue
    }
    if (ch === '"') quoted = !quoted
    word += ch
  }
  if (word) words.push(word)
  return words
}

/**
 * One kernel argument as a GRUB word the kernel reads the same as pxelinux's APPEND text.
 * GRUB's `linux` rebuilds the command line from its words, double-quoting a word that holds a
 * space and putting a backslash before every quote and backslash. So `name="a b"` becomes the
 * word `name=a b`, which reaches the kernel as `"name=a b"`: the same parameter and value. Any
 * other quote or backslash would reach the kernel changed, so it is refused.
 */
function grubArgument(node: BootNode, word: string): string {
  const grub = grubKernelWord(word)
  if (grub === undefined) {
    throw new UserError(`${node.name}: the kernel argument ${word} would reach the kernel changed through GRUB, which escapes quotes and backslashes`,
      'quote only whole values, as in name="value with spaces", and use no \' or \\ in boot.kernelArgs or the node\'s kernelArgs; or leave uefi out of boot.firmware')
  }
  return grub
}

/** The GRUB word for one kernel argument (see grubArgument), or undefined when none reaches the kernel unchanged. */
export function grubKernelWord(word: string): string | undefined {
  const value = /^"([^"]*)"$/.exec(word)?.[1] ?? /^([^="]*=)"([^"]*)"$/.exec(word)?.slice(1).join('') ?? word
  return /["'\\]/.test(value) ? undefined : grubWord(value)
}

/** A path relative to the tftp root, as GRUB opens it on the TFTP server it booted from ($root). */
const onServer = (rel: string) => `/${rel}`

/**
 * A node's file: names the node and adds its one menu entry, with the kernel, initrd and command
 * line of the boot model (the same fields as its pxelinux entry; the kernel parses both command
 * lines to the same parameters, see grubArgument). BOOTIF=01-<mac> of the NIC it
 * booted from, as pxelinux's IPAPPEND 2 adds it, comes from grub.cfg (pxeroot_bootif).
 */
export function renderGrubNode(node: BootNode): string {
  const binding = node.mac ? `its MAC ${node.mac}` : `its address ${node.ip}`
  const args = kernelWords(node.cmdline).map((word) => grubArgument(node, word))
  return [
    header('#'),
    `# ${node.name}, found by ${binding}.`,
    `set pxeroot_node=${grubWord(node.name)}`,
    `menuentry ${grubWord(node.name)} {`,
    `  echo ${grubWord(`pxeroot: ${node.name} loads ${node.kernel}`)}`,
    // Under Secure Boot `linux` has shim check the kernel's signature ("bad shim signature" if none it trusts).
    `  linux ${onServer(node.kernel)} ${args.join(' ')} BOOTIF=\${pxeroot_bootif}`,
    `  echo ${grubWord(`pxeroot: ${node.name} loads ${node.initrd}`)}`,
    `  initrd ${onServer(node.initrd)}`,
    '}',
  ].join('\n') + '\n'
}

/** `" 0=00 1=01 ... 255=FF"` in lines of 16: GRUB script has no arithmetic, so octets become hex by lookup. */
function hexTable(): string[] {
  const lines: string[] = []
  for (let row = 0; row < 16; row++) {
    const entries = Array.from({length: 16}, (_, i) => row * 16 + i).map((n) => `${n}=${n.toString(16).toUpperCase().padStart(2, '0')}`)
    lines.push(`  set pxeroot_hex="${row === 0 ? '' : '${pxeroot_hex}'} ${entries.join(' ')}"`)
  }
  return lines
}

const octets = (prefix: string, n: number) => Array.from({length: n}, (_, i) => `--set=${i + 1}:${prefix}${i + 1}`).join(' ')
const vars = (prefix: string, n: number, sep: string) => Array.from({length: n}, (_, i) => `\${${prefix}${i + 1}}`).join(sep)

/**
 * grub/grub.cfg: the only file Debian's signed netboot GRUB reads (it does no per-MAC or per-IP
 * search of its own, and under Secure Boot loads no module, so only built-in commands are used).
 * It finds the booting machine's node file by name, first by MAC, then by address, sourcing each
 * unconditionally: `[ -e ]` is always false over TFTP, and a missing file is a silent no-op.
 */
export function renderGrubCfg(site: Pick<SiteModel, 'boot'>): string {
  const mac = Array.from({length: 6}, () => '([0-9a-f][0-9a-f])').join(':')
  const unknown = site.boot.unknown === 'local'
    ? [
      '  echo "pxeroot: no node is bound to this machine; back to the firmware\'s next boot option"',
      '  exit',
    ]
    : [
      '  echo "pxeroot: no node is bound to this machine"',
      '  # boot.unknown is none: no menu entry, so GRUB stops at its command line.',
    ]
  return [
    header('#'),
    '# Picks the node from one file per node under grub/nodes/, named as pxelinux names its files.',
    'set timeout=0',
    'set default=0',
    'set pxeroot_node=',
    'echo "pxeroot: this machine is $net_default_mac at $net_default_ip"',
    '# By MAC: grub/nodes/01-<mac>.cfg. The same 01-<mac> goes on the kernel command line as',
    '# BOOTIF, as pxelinux\'s IPAPPEND 2 puts it there: the initramfs brings up the NIC that booted.',
    `regexp ${octets('pxeroot_m', 6)} '^${mac}$' "$net_default_mac"`,
    `set pxeroot_bootif="01-${vars('pxeroot_m', 6, '-')}"`,
    'export pxeroot_bootif',
    'source "$prefix/nodes/${pxeroot_bootif}.cfg"',
    '# By address: grub/nodes/<uppercase hex IP>.cfg.',
    'if [ -z "$pxeroot_node" ]; then',
    `  regexp ${octets('pxeroot_o', 4)} '^([0-9]+)\\.([0-9]+)\\.([0-9]+)\\.([0-9]+)$' "$net_default_ip"`,
    ...hexTable(),
    ...Array.from({length: 4}, (_, i) => `  regexp --set=1:pxeroot_h${i + 1} " \${pxeroot_o${i + 1}}=([0-9A-F][0-9A-F])" "$pxeroot_hex"`),
    `  source "$prefix/nodes/${vars('pxeroot_h', 4, '')}.cfg"`,
    'fi',
    'if [ -z "$pxeroot_node" ]; then',
    ...unknown,
    'fi',
  ].join('\n') + '\n'
}
