import {type Command} from './types.js'

/** A systemctl call, as a backend's reload lists it. */
export function systemctl(...args: string[]): Command {
  return {command: 'systemctl', args}
}
