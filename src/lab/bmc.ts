import {UserError} from '../errors.js'

/** What the lab's emulated BMC of one node needs to know. */
export interface LabBmcSpec {
  node: string
  /** The address it answers IPMI over LAN on (the inventory's bmc.address), inside the lab's namespace. */
  address: string
  user: string
  password: string
  /** The TCP port on the namespace's loopback where it waits for its VM (qemu's ipmi-bmc-extern). */
  vmPort: number
  /** What it runs on power-on: the VM (a script that ends by exec'ing qemu). */
  startCommand: string
  /** Seconds between asking the VM to power off and SIGTERM; then between SIGTERM and SIGKILL. */
  poweroffWaitS?: number
  killWaitS?: number
}

/** ipmi_lan(5) quotes strings with double quotes and has no escape: such a value cannot be said. */
function quoted(what: string, value: string): string {
  if (/["\n\r\0]/.test(value)) throw new UserError(`the lab's BMC for this node cannot take a ${what} with a double quote or a line break`, 'change it for the lab run')
  return `"${value}"`
}

/**
 * OpenIPMI's ipmi_sim configuration (ipmi_lan(5)) for one node's BMC, as /work/shared notes
 * verified it: IPMI v2 over LAN on the node's BMC address, one admin user (the inventory's user
 * and the site's password for it), and the VM channel (`serial 15 ... codec VM`) that qemu's
 * ipmi-bmc-extern connects to; without it the simulator refuses power control. On power-on it
 * runs `startCommand`; on power-off it tells the VM through that channel (qemu powers off at
 * once; "soft" presses the VM's ACPI power button), then SIGTERM, then SIGKILL. Pure.
 */
export function renderLanConf(spec: LabBmcSpec): string {
  return [
    `# pxeroot lab: the emulated BMC of ${spec.node} (OpenIPMI ipmi_sim; ipmi_lan(5)).`,
    `name ${quoted('node name', spec.node)}`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${spec.address} 623`,
    '    priv_limit admin',
    '    allowed_auths_callback none md2 md5 straight',
    '    allowed_auths_user none md2 md5 straight',
    '    allowed_auths_operator none md2 md5 straight',
    '    allowed_auths_admin none md2 md5 straight',
    '    guid a123456789abcdefa123456789abcdef',
    '  endlan',
    `  serial 15 127.0.0.1 ${spec.vmPort} codec VM`,
    `  startcmd ${quoted('start command', spec.startCommand)}`,
    '  startnow false',
    `  poweroff_wait ${spec.poweroffWaitS ?? 10}`,
    `  kill_wait ${spec.killWaitS ?? 5}`,
    `  user 2 true ${quoted('user', spec.user)} ${quoted('password', spec.password)} admin 10 none md2 md5 straight`,
    '',
  ].join('\n')
}

/** The simulator's management controller: a BMC at 0x20 with a SEL, as the notes verified (ipmi_sim_cmd(5)). */
export const EMU_COMMANDS = [
  'mc_setbmc 0x20',
  'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
  'sel_enable 0x20 1000 0x0a',
  'mc_enable 0x20',
  '',
].join('\n')

/** qemu's side of the VM channel: the BMC as an external device on a KCS interface, reconnecting to the simulator. */
export function qemuBmcArgs(vmPort: number): string[] {
  return [
    '-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${vmPort},reconnect=10`,
    '-device', 'ipmi-bmc-extern,chardev=ipmi0,id=bmc0',
    '-device', 'isa-ipmi-kcs,bmc=bmc0',
  ]
}

/** ipmi_sim's argv: its config, its commands, its state directory, in the foreground without a console. */
export function ipmiSimArgs(files: {lanConf: string, emuCmd: string, stateDir: string}): string[] {
  return ['-c', files.lanConf, '-f', files.emuCmd, '-s', files.stateDir, '-n']
}
