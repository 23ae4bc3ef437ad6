/** A pattern on a line of a generated file and the setting (in pxeroot's words) it comes from; "$1" takes a group. */
export type SettingRule = readonly [RegExp, string]

/** The setting behind one line of a generated file, so a daemon's reason names what to fix. */
export function settingOf(line: string, rules: readonly SettingRule[]): string | undefined {
  for (const [pattern, setting] of rules) {
    const m = pattern.exec(line)
    if (m) return setting.replaceAll(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? '')
  }
  return undefined
}

/** A daemon's reason with the live file and line it points at, and the setting that wrote that line. */
export function locatedReason(reason: string, at: {file: string, line: number, text: string} | undefined, rules: readonly SettingRule[]): string {
  if (!at) return reason
  const setting = settingOf(at.text, rules)
  return `${reason} (${at.file} line ${at.line}${setting ? `, from ${setting}` : ''})`
}
