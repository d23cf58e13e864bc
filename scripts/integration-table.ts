/**
 * The README's table of integration tests by target, from real runs of the suite (jest --json results):
 *
 *   INTEGRATION_TARGET=local npx jest --selectProjects integration --json --outputFile /tmp/local.json
 *   npm run deploy:emulator        (writes .aws-sam/emulator/integration-results.json)
 *   INTEGRATION_TARGET=aws npx jest --selectProjects integration --json --outputFile /tmp/aws.json
 *   npx tsx scripts/integration-table.ts "local emulator=/tmp/local.json" \
 *     "emulator deployment=.aws-sam/emulator/integration-results.json" "AWS stage=/tmp/aws.json"
 *
 * The first run names the tests (it should be the local one, where every test runs). A test that failed because
 * the target was not there (no deployed AWS stage: "needs WS_URL") is shown as not run here.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Assertion {
  ancestorTitles: string[];
  title: string;
  status: string;
  failureMessages?: string[];
}
interface Results {
  testResults: { name: string; assertionResults: Assertion[] }[];
}

interface Row {
  file: string;
  group: string;
  title: string;
}

const runs = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf('=');
  const results = JSON.parse(readFileSync(arg.slice(at + 1), 'utf8')) as Results;
  const tests = results.testResults.flatMap((file) =>
    file.assertionResults.map((a) => ({
      ...a,
      file: basename(file.name),
      group: (a.ancestorTitles[0] ?? '').replace(/ \[[a-z]+\]$/, ''),
    })),
  );
  return { label: arg.slice(0, at), tests };
});
const [first] = runs;
if (!first) {
  console.error('usage: tsx scripts/integration-table.ts "label=results.json" ...');
  process.exit(2);
}

const rows: Row[] = first.tests.map((t) => ({ file: t.file, group: t.group, title: t.title }));

function cell(run: (typeof runs)[number], row: Row): string {
  const same = run.tests.filter((t) => t.file === row.file && t.group === row.group);
  const exact = same.find((t) => t.title === row.title);
  if (exact) {
    if (exact.status === 'passed') return 'passed';
    const message = (exact.failureMessages ?? []).join(' ');
    const missing = /INTEGRATION_TARGET=aws needs (\w+)/.exec(message);
    if (missing) return `not run (no AWS stage here: ${missing[1]} unset)`;
    return `**${exact.status}**`;
  }
  const prefix = `skipped: ${row.title} (`;
  const skipped = same.find((t) => t.title.startsWith(prefix));
  if (skipped)
    return `skipped: ${skipped.title.slice(prefix.length, -1).replace(/ \(INTEGRATION_TARGET=\w+\)$/, '')}`;
  return 'not run';
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');
console.log(`| test | ${runs.map((r) => r.label).join(' | ')} |`);
console.log(`| --- | ${runs.map(() => '---').join(' | ')} |`);
for (const row of rows) {
  const name = `\`${row.file.replace(/\.test\.ts$/, '')}\` ${row.title}`;
  console.log(`| ${escapeCell(name)} | ${runs.map((run) => escapeCell(cell(run, row))).join(' | ')} |`);
}
