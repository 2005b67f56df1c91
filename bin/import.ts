#!/usr/bin/env node
/**
 * rule-engine-import: ThingsBoard exports (a rule chain, its converters, its MQTT integration, a dashboard) to
 * a Node-RED flow file of this package's nodes. The report goes to stderr. Any error writes nothing: the
 * flow is written to a temporary file beside the target and renamed over it only when complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ImportReport, type ImportSource, importThingsBoard } from '../nodes/lib/importer';

const usage = `Usage: rule-engine-import <rule-chain.json> [--converter <file>...] [--integration <file>]
                          [--dashboard <file>] [-o <flow.json>]

Turns ThingsBoard exports into a Node-RED flow (one new tab) of this package's nodes and core nodes.

  <rule-chain.json>      the rule chain export (required)
  --converter <file>     a data converter export, uplink or downlink (repeat for both)
  --integration <file>   the MQTT integration export: broker, topic filters, downlink topic pattern
  --dashboard <file>     the dashboard export: knob, gauges and charts become Dashboard 2.0 widgets
  -o, --output <file>    where to write the flow (default: standard output)
  -h, --help             this text

The report of what was not mapped, and what was assumed, goes to standard error.
Exit status: 0 done, 1 an export could not be imported (nothing written), 2 bad arguments.`;

/** The report as the command prints it. */
export function formatReport(report: ImportReport): string {
  const lines = [`Not mapped (${report.notMapped.length}):`, ...report.notMapped.map((l) => `  - ${l}`)];
  if (report.notes.length > 0) lines.push(`Notes (${report.notes.length}):`, ...report.notes.map((l) => `  - ${l}`));
  return lines.join('\n');
}

function read(file: string): ImportSource {
  try {
    return { name: file, text: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Writes `text` to `file` all at once: a reader never sees half a flow, and a failure leaves no file. */
function writeWhole(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export function main(argv: string[]): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        converter: { type: 'string', multiple: true },
        integration: { type: 'string' },
        dashboard: { type: 'string' },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`rule-engine-import: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`rule-engine-import: expected one rule chain file, got ${positionals.length}\n\n${usage}`);
    return 2;
  }
  try {
    const { flow, report } = importThingsBoard({
      ruleChain: read(positionals[0]),
      converters: ((values.converter as string[] | undefined) ?? []).map(read),
      integration: typeof values.integration === 'string' ? read(values.integration) : undefined,
      dashboard: typeof values.dashboard === 'string' ? read(values.dashboard) : undefined,
    });
    const text = `${JSON.stringify(flow, null, 2)}\n`;
    if (typeof values.output === 'string') writeWhole(values.output, text);
    else process.stdout.write(text);
    console.error(formatReport(report));
    return 0;
  } catch (err) {
    console.error(`rule-engine-import: ${(err as Error).message}`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
