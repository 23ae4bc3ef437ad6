import {appendFileSync} from 'node:fs'

export async function load(url, context, next) {
  appendFileSync(process.env.PXEROOT_LOADED, `${url}\n`)
  return next(url, context)
}
