import ora from 'ora'

/**
 * A log for one long wait (a lab boot): on a terminal, an ora spinner under the log lines, so
 * the user sees the run is alive between milestones; elsewhere (cron, CI, pipes, --json) plain
 * lines on stderr. listr2 is for multi-step runs (image build); the two never share the terminal.
 */
export function spinnerLog(text: string, options: {json: boolean}): {log: (line: string) => void, stop: () => void} {
  const plain = (line: string) => {
    process.stderr.write(`${line}\n`)
  }
  if (options.json || !process.stderr.isTTY || process.env.CI) return {log: plain, stop: () => {}}
  const spinner = ora({text, stream: process.stderr, discardStdin: false}).start()
  return {
    log(line) {
      spinner.clear()
      plain(line)
      spinner.render()
    },
    stop: () => spinner.stop(),
  }
}
