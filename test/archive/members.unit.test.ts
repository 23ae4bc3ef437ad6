/** Which members of an archive image import accepts, before it unpacks anything; pure. */
import {describe, expect, it} from 'vitest'

import {memberProblems} from '../../src/images/archive-members.js'

describe('memberProblems', () => {
  it('accepts manifest.json followed by rootfs/', () => {
    expect(memberProblems(['manifest.json', 'rootfs/', 'rootfs/etc/', 'rootfs/etc/passwd'])).toEqual([])
  })

  it('names each kind of problem', () => {
    expect(memberProblems([])).toEqual(['the archive is empty'])
    expect(memberProblems(['rootfs/', 'manifest.json']).join()).toMatch(/first member is "rootfs\/"/)
    expect(memberProblems(['manifest.json', 'rootfs/', '/etc/passwd']).join()).toMatch(/"\/etc\/passwd" points outside/)
    expect(memberProblems(['manifest.json', 'rootfs/a/../../../x']).join()).toMatch(/points outside/)
    expect(memberProblems(['manifest.json']).join()).toMatch(/no rootfs\/ tree/)
    expect(memberProblems(['manifest.json', 'rootfs/', 'manifest.json']).join()).toMatch(/"manifest.json" is neither/)
  })

  it('reports a flood of bad members briefly', () => {
    const names = ['manifest.json', 'rootfs/', ...Array.from({length: 50}, (_, i) => `../x${i}`)]
    const problems = memberProblems(names)
    expect(problems).toHaveLength(4)
    expect(problems[3]).toBe('and 47 more members outside it')
  })
})
