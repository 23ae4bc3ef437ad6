import {MANIFEST_MEMBER, ROOTFS_MEMBER} from './gnu-tar.js'

/**
 * Why an archive's member list is not a pxeroot export, or empty when it is: manifest.json first,
 * everything else under rootfs/, no absolute names and no "..". Pure.
 */
export function memberProblems(names: readonly string[]): string[] {
  if (names.length === 0) return ['the archive is empty']
  const problems: string[] = []
  if (names[0] !== MANIFEST_MEMBER) problems.push(`its first member is "${names[0]}", not ${MANIFEST_MEMBER} (not a pxeroot export)`)
  let traversal = 0
  let foreign = 0
  let rootfs = false
  for (const [i, name] of names.entries()) {
    const parts = name.split('/')
    if (name.startsWith('/') || parts.includes('..')) {
      if (traversal++ < 3) problems.push(`member "${name}" points outside the archive's directory`)
      continue
    }
    if (i === 0 && name === MANIFEST_MEMBER) continue
    const top = parts[0] === '.' ? parts[1] : parts[0]
    if (top === ROOTFS_MEMBER) rootfs = true
    else if (foreign++ < 3) problems.push(`member "${name}" is neither ${MANIFEST_MEMBER} nor under ${ROOTFS_MEMBER}/`)
  }
  if (traversal > 3) problems.push(`and ${traversal - 3} more members outside it`)
  if (foreign > 3) problems.push(`and ${foreign - 3} more members outside ${ROOTFS_MEMBER}/`)
  if (!rootfs && names[0] === MANIFEST_MEMBER) problems.push(`it holds no ${ROOTFS_MEMBER}/ tree`)
  return problems
}
