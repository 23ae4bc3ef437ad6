import {promises as fs} from 'node:fs'
import path from 'node:path'
import {expect} from 'vitest'

import {FIXTURES} from './tmp-root.js'

export const GOLDEN = path.join(FIXTURES, 'golden/seed')

/** Compares with the checked-in expected file; UPDATE_GOLDEN=1 rewrites it (review the diff). */
export async function expectGolden(name: string, actual: string): Promise<void> {
  const file = path.join(GOLDEN, name)
  if (process.env.UPDATE_GOLDEN) {
    await fs.mkdir(path.dirname(file), {recursive: true})
    await fs.writeFile(file, actual)
  }
  expect(actual).toBe(await fs.readFile(file, 'utf8'))
}
