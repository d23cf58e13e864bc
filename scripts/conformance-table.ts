/**
 * The conformance table of local/README.md: behaviour | API Gateway (with its source) | this emulator |
 * ministack, rendered between the `conformance-table` markers.
 *
 *   npm run test:emulator        the third-party fixture tests write artifacts/conformance/emulator/{app}.json
 *   npm run conformance          renders the table into local/README.md
 *   npm run conformance -- --check   exits 1 when the README's table is not what the results give (nothing written)
 *
 * Sources: local/conformance/aws.json (API Gateway's answer per behaviour, with the evidence: AWS pages, public
 * issues and reports, or "not documented"), artifacts/conformance/emulator/*.json (what this emulator did in
 * test/emulator/third-party/*.test.ts, recorded by the tests themselves), local/conformance/ministack.json
 * (ministack's answers from our deploy runs; each one that names an integration test is checked against
 * .aws-sam/emulator/integration-results.json when a deploy run left it there).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { biomeFormat, fillRegions, writeOrCheck } from './docs';

const ROOT = join(__dirname, '..');
const README = join(ROOT, 'local', 'README.md');
const AWS = join(ROOT, 'local', 'conformance', 'aws.json');
const MINISTACK = join(ROOT, 'local', 'conformance', 'ministack.json');
const OBSERVED = join(ROOT, 'artifacts', 'conformance', 'emulator');
const INTEGRATION_RESULTS = join(ROOT, '.aws-sam', 'emulator', 'integration-results.json');

interface Source {
  title: string;
  url?: string;
}
interface AwsRow {
  id: string;
  behaviour: string;
  answer: string;
  note?: string;
  documented?: boolean;
  sources: Source[];
}
interface MinistackRow {
  answer: string;
  evidence: string;
  /** What was observed agrees with API Gateway's answer, but not all of it was observed. */
  partial?: boolean;
  integration?: { test: string; outcome: 'passed' | 'skipped' };
}
interface Observed {
  app: string;
  observations: Record<string, { observed: string; test: string }>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

const differ = (n: number): string => `${n} ${n === 1 ? 'differs' : 'differ'}`;

/** Markdown table cell text: no pipes or line breaks. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function sourceText(row: AwsRow): string {
  const sources = row.sources.map((s) => (s.url ? `[${s.title}](${s.url})` : s.title));
  const documented = row.documented === false ? ['not documented'] : [];
  return [...documented, ...sources].join('; ') || 'not documented';
}

/** Whether ministack's recorded evidence still matches the last deploy run's results, when there is one. */
function checkIntegration(rows: Record<string, MinistackRow>): string[] {
  if (!existsSync(INTEGRATION_RESULTS)) return [];
  const results = readJson<{ testResults: { assertionResults: { fullName: string; status: string }[] }[] }>(
    INTEGRATION_RESULTS,
  );
  const tests = results.testResults.flatMap((file) => file.assertionResults);
  const problems: string[] = [];
  for (const [id, row] of Object.entries(rows)) {
    if (!row.integration) continue;
    const found = tests.find((t) => t.fullName.startsWith(row.integration?.test ?? ''));
    if (!found) {
      problems.push(`${id}: no test "${row.integration.test}" in ${INTEGRATION_RESULTS}`);
      continue;
    }
    const outcome =
      found.status !== 'passed' ? found.status : / skipped: /.test(found.fullName) ? 'skipped' : 'passed';
    if (outcome !== row.integration.outcome)
      problems.push(
        `${id}: "${row.integration.test}" ${outcome} in the last deploy run, ${row.integration.outcome} here`,
      );
  }
  return problems;
}

export function render(): { table: string; warnings: string[] } {
  const aws = readJson<{ rows: AwsRow[] }>(AWS).rows;
  const ministack = readJson<{ version: string; rows: Record<string, MinistackRow> }>(MINISTACK);
  const warnings = checkIntegration(ministack.rows);
  const files = existsSync(OBSERVED)
    ? readdirSync(OBSERVED)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
  if (files.length === 0)
    throw new Error(`no results in ${OBSERVED}: run the fixture tests first (npm run test:emulator)`);
  const observed = files.map((f) => readJson<Observed>(join(OBSERVED, f)));
  const known = new Set(aws.map((r) => r.id));
  for (const o of observed)
    for (const id of Object.keys(o.observations))
      if (!known.has(id)) warnings.push(`${o.app}: observation "${id}" has no row in ${AWS}`);

  const counts = { same: 0, differs: [] as string[], missing: [] as string[] };
  const mini = { same: 0, differs: [] as string[], missing: 0 };
  const notes: string[] = [];
  const lines = [
    '| behaviour | API Gateway (source) | this emulator (fixture) | ministack |',
    '| --- | --- | --- | --- |',
  ];
  for (const row of aws) {
    const seen = observed
      .map((o) => ({ app: o.app, value: o.observations[row.id]?.observed }))
      .filter((s): s is { app: string; value: string } => s.value !== undefined);
    let emulator: string;
    if (seen.length === 0) {
      emulator = 'not observed';
      counts.missing.push(row.id);
    } else {
      const values = [...new Set(seen.map((s) => s.value))];
      const apps = (value: string) =>
        seen
          .filter((s) => s.value === value)
          .map((s) => `\`${s.app}\``)
          .join(', ');
      const differs = values.some((v) => v !== row.answer);
      emulator = values
        .map((v) => (v === row.answer ? `${v} ✓ (${apps(v)})` : `**${v}** ≠ (${apps(v)})`))
        .join('; ');
      if (differs) counts.differs.push(row.behaviour);
      else counts.same++;
    }
    const m = ministack.rows[row.id];
    let ministackCell = 'not observed';
    if (m) {
      notes.push(
        `${notes.length + 1}. ${row.behaviour}: ${m.evidence}${m.integration ? ` (integration test "${m.integration.test}": ${m.integration.outcome})` : ''}`,
      );
      const same = m.answer === row.answer || m.partial === true;
      ministackCell = `${
        m.partial ? `${m.answer} ✓ (as far as observed)` : same ? `${m.answer} ✓` : `**${m.answer}** ≠`
      } [${notes.length}]`;
      if (same) mini.same++;
      else mini.differs.push(row.behaviour);
    } else mini.missing++;
    const note = row.note ? ` _(${row.note})_` : '';
    lines.push(
      `| ${cell(row.behaviour)} | ${cell(`**${row.answer}**${note} — ${sourceText(row)}`)} | ${cell(emulator)} | ${cell(ministackCell)} |`,
    );
  }
  const summary = [
    `${aws.length} behaviours. This emulator: ${counts.same} as API Gateway answers` +
      (counts.differs.length ? `, ${differ(counts.differs.length)} (${counts.differs.join('; ')})` : '') +
      (counts.missing.length
        ? `, ${counts.missing.length} not observed (${counts.missing.join(', ')})`
        : '') +
      `. ${ministack.version}: ${mini.same} as API Gateway answers, ${differ(mini.differs.length)}, ${mini.missing} not observed in our deploy runs.`,
  ];
  const body = [
    ...summary,
    '',
    ...lines,
    '',
    `ministack evidence (${ministack.version}, \`npm run deploy:emulator\`):`,
    '',
    ...notes,
  ].join('\n');
  return { table: body, warnings };
}

function main(): void {
  const check = process.argv.includes('--check');
  const { table, warnings } = render();
  for (const warning of warnings) console.warn(`warning: ${warning}`);
  const readme = readFileSync(README, 'utf8');
  const next = biomeFormat(fillRegions(readme, { 'conformance-table': () => table }, README), README);
  const stale = writeOrCheck(README, next, check);
  if (check && stale) {
    console.error(`${README}: the conformance table is not what the results give: npm run conformance`);
    process.exit(1);
  }
  console.log(`${README}: the conformance table is ${stale ? 'written' : 'up to date'}`);
}

if (require.main === module) main();
