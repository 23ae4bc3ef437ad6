/**
 * Which accelerator a lab run asks qemu for. `auto` is KVM where /dev/kvm opens; once a run of the
 * process saw its VMs reset under KVM (lab-boot then runs them again under TCG), the process's
 * later runs go to TCG at once. An accelerator named on the command line is used as named.
 */
import {describe, expect, it} from 'vitest'

import {noteKvmGuestsReset, pickAccel} from '../../src/lab/qemu.js'

describe('the lab\'s accelerator', () => {
  it('takes an accelerator named on the command line as it is, and auto means TCG once KVM guests reset in this process', async () => {
    expect(await pickAccel('tcg')).toBe('tcg')
    expect(await pickAccel('kvm')).toBe('kvm')
    noteKvmGuestsReset()
    expect(await pickAccel('auto')).toBe('tcg')
    expect(await pickAccel('kvm')).toBe('kvm')
  })
})
