#!/usr/bin/env node
// `oclif manifest` lists commands in the order its directory walk finishes, which differs between
// runs; the committed manifest is checked against the build, so the commands are written sorted.
import {readFileSync, renameSync, writeFileSync} from 'node:fs'

const file = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(file, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
const temp = new URL('../oclif.manifest.json.tmp', import.meta.url)
writeFileSync(temp, JSON.stringify(manifest, null, 2) + '\n')
renameSync(temp, file)
