/** A reader of a stream of JSON messages, one per line (the RBD session's, QMP's): feed it the
 * chunks as they come, it calls `onMessage` with each whole line parsed. */
export function jsonLines<T>(onMessage: (message: T) => void): (chunk: string) => void {
  let buffered = ''
  return (chunk) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) onMessage(JSON.parse(line) as T)
  }
}
