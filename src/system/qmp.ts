import {createConnection} from 'node:net'

/**
 * Presses keys on a qemu VM's keyboard through its QMP socket (`-qmp unix:PATH,server=on,wait=off`):
 * the greeting, qmp_capabilities, then send-key. Bounded; resolves false when the VM did not take
 * them (gone, or no answer within timeoutMs).
 */
export async function qmpSendKeys(socket: string, keys: readonly string[], timeoutMs = 5000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const conn = createConnection(socket)
    let text = ''
    let sent = 0
    const done = (ok: boolean) => {
      clearTimeout(timer)
      conn.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    const commands = [
      {execute: 'qmp_capabilities'},
      {execute: 'send-key', arguments: {keys: keys.map((k) => ({type: 'qcode', data: k}))}},
    ]
    conn.on('error', () => done(false))
    conn.on('data', (chunk) => {
      text += chunk.toString('utf8')
      const lines = text.split('\n')
      text = lines.pop() ?? ''
      for (const line of lines) {
        const reply = JSON.parse(line) as {QMP?: unknown, return?: unknown, error?: unknown, event?: unknown}
        if (reply.event) continue
        if (reply.error) return done(false)
        // The greeting, then one reply per command.
        if (sent === commands.length) return done(true)
        conn.write(JSON.stringify(commands[sent++]) + '\n')
      }
    })
  })
}
