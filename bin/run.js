#!/usr/bin/env node
// oclif compares node's version with its own engines field through semver (48 modules) at every
// start; npm already checks pxeroot's engines when it installs it. Set only while oclif loads,
// so the processes pxeroot starts do not inherit it.
const quiet = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
if (quiet) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute} = await import('@oclif/core')
if (quiet) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

await execute({dir: import.meta.url})
