import {Listr, ListrLogger, ProcessOutput} from 'listr2'

import {type Context} from '../system/context.js'

export interface Step {
  title: string
  /** `output` shows a progress line under the step on a terminal; the returned text is appended to the title. */
  run: (output: (line: string) => void) => Promise<string | void>
}

const stamp = () => new Date().toISOString().slice(11, 19)

/**
 * Runs steps in order and shows them: listr2 on a terminal, timestamped lines in cron and CI,
 * always on stderr (stdout belongs to --json). An abort is reported as the interruption it is.
 */
export async function runSteps(ctx: Context, steps: Step[]): Promise<void> {
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI && !ctx.json
  try {
    if (tty) {
      const logger = new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})
      await new Listr(steps.map((step) => ({
        title: step.title,
        task: async (_: unknown, task: {output: string, title: string}) => {
          const detail = await step.run((line) => {
            task.output = line
          })
          if (detail) task.title = `${step.title}: ${detail}`
        },
      })), {
        concurrent: false,
        exitOnError: true,
        registerSignalListeners: false,
        // listr2 decides by stdout, which may be a pipe or --json's; progress belongs to the stderr terminal.
        fallbackRendererCondition: false,
        rendererOptions: {logger},
        fallbackRendererOptions: {logger},
      }).run()
      return
    }
    for (const step of steps) {
      const started = Date.now()
      ctx.log(`[${stamp()}] ${step.title} ...`)
      try {
        const detail = await step.run(() => {})
        ctx.log(`[${stamp()}] ${step.title}: ${detail || 'done'} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      } catch (error) {
        ctx.log(`[${stamp()}] ${step.title}: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s`)
        throw error
      }
    }
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason
    throw error
  }
}
