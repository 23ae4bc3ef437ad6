import {kvmUsable} from '../system/devices.js'

export type Accel = 'auto' | 'kvm' | 'tcg'

export interface VmSpec {
  name: string
  mac: string
  tap: string
  serialLog: string
  capture: string
  memoryMiB: number
  accel: 'kvm' | 'tcg'
  /** A UEFI machine: OVMF's code and this VM's own copy of its variables. Absent: BIOS. */
  uefi?: {code: string, vars: string}
  /** A QMP socket, for a key press that shuts the node down cleanly (a node whose root is a block device). */
  qmp?: string
}

/** KVM when /dev/kvm can be opened, else qemu's emulator (TCG): the lab works without KVM, only slower. */
export async function pickAccel(wanted: Accel): Promise<'kvm' | 'tcg'> {
  if (wanted !== 'auto') return wanted
  return await kvmUsable() ? 'kvm' : 'tcg'
}

/** qemu option values are comma-separated lists; a comma in a path would split it. */
function optionPath(p: string): string {
  if (p.includes(',')) throw new Error(`internal: qemu option path contains a comma: ${p}`)
  return p
}

/**
 * A BIOS machine that PXE-boots from an e1000 NIC (its iPXE option ROM comes with ipxe-qemu)
 * on the lab's tap. -nographic sends the firmware, iPXE and pxelinux output to the serial port
 * too; the serial port goes to a file. qemu's filter-dump captures the NIC's traffic (the first
 * 192 bytes of each frame: enough for TFTP requests, replies and lengths). -no-reboot turns
 * "Boot failed, rebooting" into an exit.
 */
export function qemuArgs(vm: VmSpec): string[] {
  if (vm.uefi) return uefiArgs(vm, vm.uefi)
  return [
    '-name', `pxeroot-lab-${vm.name}`,
    '-machine', 'pc',
    '-accel', vm.accel,
    ...(vm.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', String(vm.memoryMiB),
    '-smp', '1',
    '-boot', 'n',
    '-nographic',
    '-serial', `file:${optionPath(vm.serialLog)}`,
    '-monitor', 'none',
    ...qmpArgs(vm),
    '-no-reboot',
    '-netdev', `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
    // The Debian iPXE ROM waits ~13 s for an IPv6 router advertisement on every boot. qemu's
    // user-mode network, IPv6 only and restricted (no IPv4, so no second DHCP server; nothing
    // leaves qemu), sends one: joined to the NIC and the tap by a qemu hub, it ends the wait.
    '-netdev', 'user,id=ra0,ipv4=off,ipv6=on,restrict=on',
    '-netdev', 'hubport,id=port-tap,hubid=0,netdev=net0',
    '-netdev', 'hubport,id=port-ra,hubid=0,netdev=ra0',
    '-netdev', 'hubport,id=port-nic,hubid=0',
    '-device', `e1000,netdev=port-nic,mac=${vm.mac}`,
    // Only what crosses the tap: the lab network's side of the boot.
    '-object', `filter-dump,id=dump0,netdev=net0,file=${optionPath(vm.capture)},maxlen=192`,
  ]
}

/**
 * A UEFI PC with Secure Boot enforced (q35 with SMM, the variable store on secure flash, so only
 * SMM code can change it) that PXE-boots through OVMF's own network stack on a virtio NIC:
 * `romfile=` keeps qemu from loading the iPXE option ROM, which OVMF would run unverified and
 * which hands shim a buffer it cannot verify GRUB from. bootindex=1 makes PXEv4 the first boot
 * option. The tap has no vnet header, so the capture holds plain frames. OVMF, shim and GRUB all
 * write to the serial port; there is no display.
 */
function uefiArgs(vm: VmSpec, firmware: {code: string, vars: string}): string[] {
  return [
    '-name', `pxeroot-lab-${vm.name}`,
    '-machine', 'q35,smm=on',
    '-accel', vm.accel,
    ...(vm.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-global', 'driver=cfi.pflash01,property=secure,value=on',
    '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${optionPath(firmware.code)}`,
    '-drive', `if=pflash,format=raw,unit=1,file=${optionPath(firmware.vars)}`,
    '-m', String(vm.memoryMiB),
    '-smp', '1',
    '-display', 'none',
    '-serial', `file:${optionPath(vm.serialLog)}`,
    '-monitor', 'none',
    ...qmpArgs(vm),
    '-no-reboot',
    '-netdev', `tap,id=net0,ifname=${vm.tap},script=no,downscript=no,vnet_hdr=off`,
    '-device', `virtio-net-pci,romfile=,netdev=net0,mac=${vm.mac},bootindex=1`,
    '-object', `filter-dump,id=dump0,netdev=net0,file=${optionPath(vm.capture)},maxlen=192`,
  ]
}

function qmpArgs(vm: VmSpec): string[] {
  return vm.qmp ? ['-qmp', `unix:${optionPath(vm.qmp)},server=on,wait=off`] : []
}

/** A locally administered MAC in qemu's 52:54:00 block for a node bound by address, from its IP. */
export function labMac(ip: string, taken: ReadonlySet<string>): string {
  const [, b, c, d] = ip.split('.').map(Number)
  for (let salt = 0; salt < 256; salt++) {
    const mac = ['52', '54', '00', (b + salt) % 256, c, d].map((n) => (typeof n === 'number' ? n.toString(16).padStart(2, '0') : n)).join(':')
    if (!taken.has(mac)) return mac
  }
  throw new Error(`internal: no free lab MAC for ${ip}`)
}
